/* The report form: an optional map to mark where the problem is (fills the hidden lat and lon).
   Leaflet is loaded only when asked for, so the form stays light; without it the form works. */
(function () {
  "use strict";
  var box = document.getElementById("elegir-punto");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (!box || !lat || !lon) { return; }

  function button(label, secondary) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (secondary) { b.className = "secundario"; }
    return b;
  }

  var open = button("Marcar el lugar en un mapa (opcional)", true);
  var here = button("Usar mi ubicación", true);
  var clear = button("Quitar el punto", true);
  var status = document.createElement("p");
  status.setAttribute("aria-live", "polite");
  here.hidden = clear.hidden = true;
  box.appendChild(open);
  box.appendChild(status);
  var map = null;
  var marker = null;

  function describe() {
    status.textContent = lat.value ? "Punto marcado: " + Number(lat.value).toFixed(5) + ", " +
      Number(lon.value).toFixed(5) : (map ? "Toque el mapa donde está el problema." : "");
    clear.hidden = !lat.value;
  }

  function place(point) {
    lat.value = point.lat.toFixed(6);
    lon.value = point.lng.toFixed(6);
    if (marker) { marker.setLatLng(point); } else {
      marker = L.circleMarker(point, { radius: 10, color: "#0b3d6e", weight: 3, fillColor: "#f0a500",
                                       fillOpacity: 0.9 }).addTo(map);
    }
    describe();
  }

  function load(done) {
    if (window.L) { done(); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = box.dataset.leafletCss;
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = box.dataset.leafletJs;
    script.onload = done;
    script.onerror = function () {
      open.disabled = false;
      status.textContent = "No se pudo cargar el mapa. Puede enviar el reporte sin marcar el lugar.";
    };
    document.head.appendChild(script);
  }

  function show() {
    open.hidden = true;
    var div = document.createElement("div");
    div.className = "mapa activo";
    box.insertBefore(div, open);
    var start = lat.value ? [Number(lat.value), Number(lon.value)] : [Number(box.dataset.lat), Number(box.dataset.lon)];
    map = L.map(div).setView(start, lat.value ? 17 : 13);
    var attribution = (box.dataset.atribucion || "").replace(/[&<>"']/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
    var noted = false;
    L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: attribution })
      .on("tileerror", function () {  // offline, or the tile server is down: say so once
        if (noted) { return; }
        noted = true;
        var note = document.createElement("p");
        note.className = "aviso nota-mapa";
        note.setAttribute("role", "status");
        note.textContent = "No se pudo cargar el fondo del mapa, así que es difícil ubicar el lugar. " +
          "Puede enviar el reporte sin marcarlo: el barrio y la descripción bastan.";
        box.insertBefore(note, div.nextSibling);
      })
      .addTo(map);
    map.on("click", function (e) { place(e.latlng); });
    if (lat.value) { place(L.latLng(start[0], start[1])); }
    if (navigator.geolocation) {
      here.hidden = false;
      box.appendChild(here);
    }
    box.appendChild(clear);
    describe();
  }

  open.addEventListener("click", function () {
    open.disabled = true;
    status.textContent = "Cargando el mapa…";
    load(show);
  });
  here.addEventListener("click", function () {
    status.textContent = "Buscando su ubicación…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var point = L.latLng(pos.coords.latitude, pos.coords.longitude);
      map.setView(point, 17);
      place(point);
    }, function () {
      status.textContent = "No pudimos saber su ubicación. Toque el mapa donde está el problema.";
    }, { enableHighAccuracy: true, timeout: 15000 });
  });
  clear.addEventListener("click", function () {
    lat.value = lon.value = "";
    if (marker) { map.removeLayer(marker); marker = null; }
    describe();
  });
  describe();
})();
