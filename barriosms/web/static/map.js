/* The public map (/mapa): Leaflet circles per neighbourhood, sized by how many cases it has.
   The page already shows the same counts as a table; this only adds the picture. Open and closed
   differ by more than colour: a solid border and the number of open cases in the circle, or a
   dashed border and no number. The legend is shown only once there is a map to explain. */
(function () {
  "use strict";
  var box = document.getElementById("mapa");
  if (!box || !window.L || !window.fetch) { return; }
  box.classList.add("activo");
  var legend = document.getElementById("leyenda");
  if (legend) { legend.hidden = false; }

  function text(tag, content) {
    var el = document.createElement(tag);
    el.textContent = content;
    return el;
  }

  function escape(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }

  // A short note under the map, once per kind ("tiles", "data").
  var noted = {};
  function note(kind, message) {
    if (noted[kind]) { return; }
    noted[kind] = true;
    var p = text("p", message);
    p.className = "aviso nota-mapa";
    p.setAttribute("role", "status");
    box.parentNode.insertBefore(p, box.nextSibling);
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

  function look(p) {
    if (p.open) {  // solid border, the open count written inside
      return { radius: radius(p.total), color: "#b3261e", weight: 2, fillColor: "#b3261e", fillOpacity: 0.45 };
    }
    if (p.total) {  // all closed: dashed border
      return { radius: radius(p.total), color: "#1e6b34", weight: 2, dashArray: "4 3", fillColor: "#1e6b34",
               fillOpacity: 0.3 };
    }
    return { radius: radius(0), color: "#6b7680", weight: 1, fillColor: "#6b7680", fillOpacity: 0.45 };
  }

  var centre = [parseFloat(box.dataset.lat), parseFloat(box.dataset.lon)];
  var map = L.map(box, { scrollWheelZoom: false }).setView(centre, box.dataset.punto ? 16 : 13);
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: escape(box.dataset.atribucion || "") })
    .on("tileerror", function () {
      note("tiles", "No se pudo cargar el fondo del mapa; los círculos y la tabla siguen siendo correctos.");
    })
    .addTo(map);
  if (box.dataset.punto) {
    L.circleMarker(centre, { radius: 9, color: "#0b3d6e", weight: 3, fillColor: "#f0a500", fillOpacity: 0.9 })
      .addTo(map).bindPopup(text("span", "El lugar"));
  }

  fetch(box.dataset.datos, { headers: { Accept: "application/geo+json" } })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(function (data) {
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, look(feature.properties));
        },
        onEachFeature: function (feature, marker) {
          var p = feature.properties;
          marker.bindPopup(popup(p));
          if (p.open) {
            marker.bindTooltip(String(p.open), { permanent: true, direction: "center", className: "cuenta",
                                                 opacity: 1 });
          }
        }
      }).addTo(map);
      if (!box.dataset.punto && layer.getLayers().length) {
        // No animation: the numbers (tooltips) and the circles would be drawn apart until it ends.
        map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 15, animate: false });
      }
    })
    .catch(function () {
      note("data", "No se pudieron cargar los datos del mapa. La tabla de abajo tiene los mismos números.");
    });
})();
