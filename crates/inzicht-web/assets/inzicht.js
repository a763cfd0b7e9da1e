// inzicht: the little JavaScript the tool uses, none of it needed to read a page.
// 1. "Download als PNG": draws the chart's SVG on a canvas in the browser (no server-side
//    rasteriser, nothing leaves the machine).
// 2. A running background computation refreshes its page.
document.addEventListener("click", function (ev) {
  var a = ev.target.closest && ev.target.closest("a.inzicht-png");
  if (!a) return;
  ev.preventDefault();
  fetch(a.getAttribute("href"), { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (svg) {
      var img = new Image();
      var url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
      img.onload = function () {
        var c = document.createElement("canvas");
        c.width = img.naturalWidth * 2; c.height = img.naturalHeight * 2;
        var g = c.getContext("2d");
        g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
        g.drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        c.toBlob(function (b) {
          var d = document.createElement("a");
          d.href = URL.createObjectURL(b);
          d.download = (a.getAttribute("data-name") || "grafiek") + ".png";
          document.body.appendChild(d); d.click(); d.remove();
        }, "image/png");
      };
      img.src = url;
    });
});
(function () {
  var r = document.getElementById("inzicht-refresh");
  if (r) setTimeout(function () { location.reload(); }, 1000 * Number(r.getAttribute("data-seconds") || 3));
})();
