// Draws the bundled world-atlas countries as SVG (d3-geo + topojson-client, vendored:
// no tile server, works offline) and shades each country by its article count.
(function () {
  "use strict";
  function draw() {
    var svg = document.getElementById("world-map");
    if (!svg || !window.d3 || !window.topojson) return;
    var counts = JSON.parse(document.getElementById("country-counts").textContent || "{}");
    var max = 0;
    Object.keys(counts).forEach(function (id) { max = Math.max(max, counts[id].n); });
    fetch(svg.dataset.atlas).then(function (r) { return r.json(); }).then(function (world) {
      var countries = topojson.feature(world, world.objects.countries);
      var projection = d3.geoNaturalEarth1().fitSize([960, 500], countries);
      var path = d3.geoPath(projection);
      var ns = "http://www.w3.org/2000/svg";
      countries.features.forEach(function (feature) {
        var el = document.createElementNS(ns, "path");
        var found = counts[feature.id];
        el.setAttribute("d", path(feature) || "");
        el.setAttribute("class", "country" + (found ? " has-articles" : ""));
        if (found) {
          // Square root: one country with many articles should not wash out the rest.
          var share = Math.sqrt(found.n / max);
          el.style.fill = "hsl(210, 70%, " + Math.round(85 - share * 55) + "%)";
        }
        var title = document.createElementNS(ns, "title");
        title.textContent = (feature.properties && feature.properties.name || feature.id) +
          ": " + (found ? found.n : 0) + " articles";
        el.appendChild(title);
        svg.appendChild(el);
      });
      var legend = document.getElementById("map-legend");
      if (legend) legend.textContent = Object.keys(counts).length + " countries, up to " + max + " articles each";
      svg.setAttribute("data-drawn", String(countries.features.length));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
