/* The public map (/mapa): Leaflet circles per neighbourhood, sized by how many cases it has.
   The page already shows the same counts as a table; this only adds the picture. */
(function () {
  "use strict";
  var box = document.getElementById("mapa");
  if (!box || !window.L || !window.fetch) { return; }
  box.classList.add("activo");

  function text(tag, content) {
    var el = document.createElement(tag);
    el.textContent = content;
    return el;
  }

  function escape(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }

  function popup(p) {
    var div = document.createElement("div");
    div.appendChild(text("strong", p.name + " (" + p.code + ")"));
    if (p.district) { div.appendChild(text("div", p.district)); }
    div.appendChild(text("div", "Abiertos: " + p.open + " · Cerrados: " + p.done));
    var link = text("a", "Ver el barrio");
    link.href = "/barrio/" + encodeURIComponent(p.code);
    div.appendChild(link);
    return div;
  }

  function radius(total) {
    return total ? Math.min(40, 6 + 3 * Math.sqrt(total)) : 4;
  }

  var centre = [parseFloat(box.dataset.lat), parseFloat(box.dataset.lon)];
  var map = L.map(box, { scrollWheelZoom: false }).setView(centre, box.dataset.punto ? 16 : 13);
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: escape(box.dataset.atribucion || "") }).addTo(map);
  if (box.dataset.punto) {
    L.circleMarker(centre, { radius: 9, color: "#0b3d6e", weight: 3, fillColor: "#f0a500", fillOpacity: 0.9 })
      .addTo(map).bindPopup(text("span", "El lugar"));
  }

  fetch(box.dataset.datos, { headers: { Accept: "application/geo+json" } })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(function (data) {
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          var p = feature.properties;
          var colour = p.open ? "#b3261e" : (p.total ? "#1e6b34" : "#6b7680");
          return L.circleMarker(latlng, { radius: radius(p.total), color: colour, weight: 2,
                                          fillColor: colour, fillOpacity: 0.45 });
        },
        onEachFeature: function (feature, marker) { marker.bindPopup(popup(feature.properties)); }
      }).addTo(map);
      if (!box.dataset.punto && layer.getLayers().length) {
        map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 15 });
      }
    })
    .catch(function () {
      box.parentNode.insertBefore(text("p", "No se pudieron cargar los datos del mapa. La tabla de abajo " +
                                           "tiene los mismos numeros."), box.nextSibling);
    });
})();
