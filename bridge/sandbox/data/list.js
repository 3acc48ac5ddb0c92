/* The redesigned template's list: entries come from list.json next to the page. */
(function () {
  var box = document.getElementById("list");
  if (!box) {
    return;
  }
  var req = new XMLHttpRequest();
  req.open("GET", box.getAttribute("data-src"), true);
  req.onload = function () {
    var data = JSON.parse(req.responseText);
    var html = "<ul class=\"news-list\">";
    for (var i = 0; i < data.list.length; i++) {
      var row = data.list[i];
      html += "<li" + (row.top ? " class=\"top\"" : "") + "><a href=\"" + row.url + "\">" +
        row.title + "</a><em>" + row.date + "</em></li>";
    }
    box.innerHTML = html + "</ul>";
  };
  req.send();
})();
