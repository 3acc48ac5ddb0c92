/* Hanweb JCMS list pager: shows the embedded records, fetches later ones from dataproxy.jsp. */
(function () {
  var store = document.querySelector("script[type='text/xml']");
  if (!store || typeof totalRecord === "undefined") {
    return;
  }
  var show = function (xml) {
    var doc = new DOMParser().parseFromString(xml, "text/xml");
    var records = doc.getElementsByTagName("record");
    var html = "";
    for (var i = 0; i < records.length; i++) {
      html += records[i].textContent;
    }
    store.parentNode.innerHTML = "<ul class=\"list\">" + html + "</ul>";
  };
  show(store.textContent);
  window.jpageGo = function (page) {
    var req = new XMLHttpRequest();
    req.open("GET", "/module/web/jpage/dataproxy.jsp?page=" + page + "&webid=1&path=/&columnid=" +
      columnid + "&unitid=" + unitid + "&permissiontype=0", true);
    req.onload = function () { show(req.responseText); };
    req.send();
  };
})();
