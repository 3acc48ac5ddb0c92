/* TRS WCM pager: writes the page links of a column listing. */
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt) {
  if (_nPageCount == null || _nPageCount <= 1) {
    return;
  }
  var page = function (i) {
    return (i == 0 ? _sPageName : _sPageName + "_" + i) + "." + _sPageExt;
  };
  var html = "";
  if (_nCurrIndex == 0) {
    html += "首页 上一页 ";
  } else {
    html += "<a href=\"" + page(0) + "\">首页</a> <a href=\"" + page(_nCurrIndex - 1) + "\">上一页</a> ";
  }
  if (_nCurrIndex == _nPageCount - 1) {
    html += "下一页 尾页";
  } else {
    html += "<a href=\"" + page(_nCurrIndex + 1) + "\">下一页</a> <a href=\"" + page(_nPageCount - 1) + "\">尾页</a>";
  }
  html += " 共" + _nPageCount + "页 当前第" + (_nCurrIndex + 1) + "页";
  document.write("<div class=\"page\">" + html + "</div>");
}
