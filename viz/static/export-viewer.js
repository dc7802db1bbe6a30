/* The viewer inside an exported HTML file: draws the inlined neighbourhood, offline. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("neighbourhood").textContent);
  const hood = {
    root: doc.data.root,
    notices: doc.data.notices || [],
    nodes: doc.elements.nodes.map((n) => n.data),
    edges: doc.elements.edges.map((e) => e.data),
  };
  let title = doc.data.title + " — depth " + doc.data.depth;
  if (doc.data.asOf) title += ", as of " + doc.data.asOf;
  document.getElementById("title").textContent = title;
  document.getElementById("notices").textContent = hood.notices.join(" · ");
  const cy = cytoscape({
    container: document.getElementById("graph"),
    elements: CG.toElements(hood),
    style: CG.stylesheet(),
    layout: CG.layoutOptions(hood.nodes.length, hood.root),
    wheelSensitivity: 0.3,
  });
  CG.buildLegend(document.getElementById("legend"));
  const panel = document.getElementById("panel");
  cy.on("tap", "node", (event) => {
    const data = event.target.data();
    panel.textContent = "";
    panel.appendChild(CG.el("h2", {}, data.label));
    panel.appendChild(CG.el("p", { class: "kind" }, data.kind + (data.sanctioned ? " · sanctioned" : "")));
    const values = Object.assign({ depth: data.depth }, data.details || {});
    if (data.kind === "Cluster") values.parties = data.count;
    if (typeof data.risk === "number") values["contagion score"] = data.risk.toFixed(3);
    panel.appendChild(CG.detailList(values));
    const path = CG.shortestPaths(cy, hood.root, data.id, 1);
    if (path.length) CG.highlightPaths(cy, path);
  });
  cy.on("tap", (event) => {
    if (event.target === cy) cy.elements().removeClass("path faded");
  });
  window.cgExport = { cy: cy, hood: hood };
})();
