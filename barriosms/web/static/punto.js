/* The back-office's case page: the case's point on a small map (the coordinates are on the page
   already, with a link; this only adds the picture when JavaScript and Leaflet are there). */
(function () {
  "use strict";
  var box = document.getElementById("punto");
  if (!box || !window.L) { return; }
  var lat = parseFloat(box.dataset.lat), lon = parseFloat(box.dataset.lon);
  if (!isFinite(lat) || !isFinite(lon)) { return; }
  box.classList.add("activo");
  var map = L.map(box, { scrollWheelZoom: false }).setView([lat, lon], box.dataset.barrio ? 14 : 17);
  var failed = false;
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.atribucion || "" })
    .on("tileerror", function () {
      if (failed) { return; }
      failed = true;
      var p = document.createElement("p");
      p.className = "aviso nota-mapa";
      p.textContent = "No se pudo cargar el fondo del mapa; el punto y sus coordenadas siguen siendo correctos.";
      box.parentNode.insertBefore(p, box.nextSibling);
    })
    .addTo(map);
  L.circleMarker([lat, lon], { radius: 9, color: "#b3261e", weight: 3, fillOpacity: 0.5 }).addTo(map);
}());
