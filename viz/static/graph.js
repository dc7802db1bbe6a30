/* credgraph: what the page and the exported HTML share. The neighbourhood structure
   ({root, nodes, edges, notices}, as viz/model.py), its cut to MAX_NODES (cluster leaves, then
   drop the farthest: the same rule as viz/model.py cluster_leaves), the cytoscape style, the
   legend and the details panel. Text from the data only ever goes in through textContent. */
(function (global) {
  "use strict";

  const MAX_NODES = 300;
  const MIN_CLUSTER = 8;
  const HIGH_RISK = 0.5;
  const FONT =
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", ' +
    '"WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif';

  const PALETTE = {
    LegalPerson: "#4c78a8",
    NaturalPerson: "#54a24b",
    Record: "#9d9d9d",
    Cluster: "#bab0ac",
    sanctioned: "#d62728",
    highRisk: "#ff7f0e",
    root: "#222222",
    edge: "#666666",
    former: "#b0b0b0",
    path: "#e6ab02",
    underObjection: "#9467bd",
    repaired: "#2ca02c",
  };

  /* A record's status on the date drawn, as its mark says it (viz/render.py RECORD_STATUS):
     an active record is grey (red while it counts), the others are marked and named under it. */
  const RECORD_STATUS = {
    under_objection: "under objection", repaired: "repaired", expired: "expired",
    revoked: "revoked",
  };

  const RELATION_LABELS = {
    LEGAL_REPRESENTATIVE_OF: "legal rep.",
    PRINCIPAL_OF: "principal",
    EXECUTIVE_OF: "executive",
    RESPONSIBLE_FOR: "responsible",
    REGISTERED_PROFESSIONAL_OF: "registered prof.",
    PRACTISES_AT: "practises at",
    ACTUAL_CONTROLLER_OF: "controller",
    SHAREHOLDER_OF: "shareholder",
    INVESTS_IN: "invests",
    BRANCH_OF: "branch",
    GUARANTEES: "guarantees",
    SUPPLIES: "supplies",
    MEMBER_OF: "member",
    PARTICIPATES_IN: "participates",
    SUBJECT_OF: "record",
  };

  function formatAmount(amount) {
    const fmt = (x) => String(Number(x.toPrecision(4)));
    if (amount >= 1e8) return "¥" + fmt(amount / 1e8) + "亿";
    if (amount >= 1e4) return "¥" + fmt(amount / 1e4) + "万";
    return "¥" + Math.round(amount);
  }

  /* What an edge says: the stake as a percentage, the amount, the role, else the type. */
  function edgeLabel(type, props) {
    if (typeof props.stake === "number") return String(Number((props.stake * 100).toPrecision(4))) + "%";
    if (typeof props.amount === "number") return formatAmount(props.amount);
    if (props.role) return String(props.role).replace(/_/g, " ");
    return RELATION_LABELS[type] || type.toLowerCase();
  }

  function foldable(node, root, degree) {
    return (
      node && node.id !== root && degree === 1 &&
      (node.kind === "LegalPerson" || node.kind === "NaturalPerson") &&
      !node.sanctioned && !node.pinned && (node.risk || 0) < HIGH_RISK
    );
  }

  /* The neighbourhood cut to maxNodes: leaves of hubs folded per relation type and direction
     into cluster nodes (largest groups first) until it fits, then the farthest nodes dropped
     (records first). Returns a new structure whose notices say what was cut. O(V + E). */
  function clusterLeaves(hood, maxNodes, minCluster) {
    maxNodes = maxNodes || MAX_NODES;
    minCluster = minCluster || MIN_CLUSTER;
    if (hood.nodes.length <= maxNodes) return hood;
    const degree = new Map();
    for (const e of hood.edges) {
      degree.set(e.source, (degree.get(e.source) || 0) + 1);
      degree.set(e.target, (degree.get(e.target) || 0) + 1);
    }
    const byId = new Map(hood.nodes.map((n) => [n.id, n]));
    const groups = new Map();
    for (const e of hood.edges) {
      for (const [leaf, hub] of [[e.source, e.target], [e.target, e.source]]) {
        if (foldable(byId.get(leaf), hood.root, degree.get(leaf)) && degree.get(hub) > 1) {
          // per hub, type and direction: a hub's shareholders and the firms it holds shares
          // in are two clusters, each linked the way its relations run
          const outward = hub === e.source;
          const key = hub + "\u0000" + e.type + "\u0000" + outward;
          if (!groups.has(key)) groups.set(key, { hub: hub, type: e.type, outward: outward, edges: [] });
          groups.get(key).edges.push(e);
        }
      }
    }
    const folded = new Set();
    const clusters = [];
    let excess = hood.nodes.length - maxNodes;
    const ordered = Array.from(groups.values()).sort((a, b) => b.edges.length - a.edges.length);
    for (const group of ordered) {
      if (excess <= 0 || group.edges.length < minCluster) break;
      const leaves = group.edges
        .map((e) => (group.outward ? e.target : e.source))
        .filter((leaf) => !folded.has(leaf));
      leaves.forEach((leaf) => folded.add(leaf));
      const id = "cluster:" + group.hub + ":" + group.type + ":" + (group.outward ? "out" : "in");
      const node = {
        id: id, kind: "Cluster", count: leaves.length,
        label: leaves.length + " × " + (RELATION_LABELS[group.type] || group.type),
        depth: leaves.length ? byId.get(leaves[0]).depth : 0, sanctioned: false,
        details: {}, members: leaves.map((leaf) => byId.get(leaf)),
      };
      const link = { id: id + ":edge", source: group.outward ? group.hub : id,
        target: group.outward ? id : group.hub, type: group.type,
        label: String(leaves.length), current: true, details: {} };
      clusters.push([node, link]);
      excess -= leaves.length - 1;
    }
    let nodes = hood.nodes.filter((n) => !folded.has(n.id)).concat(clusters.map((c) => c[0]));
    const notices = (hood.notices || []).slice();
    if (folded.size) {
      notices.push(folded.size + " leaf parties folded into " + clusters.length +
        (clusters.length === 1 ? " cluster node" : " cluster nodes") +
        " to keep the picture under " + maxNodes + " nodes");
    }
    if (nodes.length > maxNodes) {
      // the root and the parties of a drawn or explaining path are never left out
      const rank = (n) => [n.id === hood.root || n.pinned ? 0 : 1, n.kind === "Record" ? 1 : 0, n.depth,
        n.kind === "Cluster" ? 1 : 0];
      nodes = nodes.slice().sort((a, b) => {
        const ra = rank(a), rb = rank(b);
        for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i] - rb[i];
        return 0;
      });
      const dropped = nodes.length - maxNodes;
      nodes = nodes.slice(0, maxNodes);
      notices.push(dropped + " farthest nodes left out (cap of " + maxNodes + " nodes)");
    }
    const keep = new Set(nodes.map((n) => n.id));
    let edges = hood.edges.filter((e) => keep.has(e.source) && keep.has(e.target));
    edges = edges.concat(clusters.filter((c) => keep.has(c[1].source) && keep.has(c[1].target))
      .map((c) => c[1]));
    return Object.assign({}, hood, { nodes: nodes, edges: edges, truncated: true, notices: notices });
  }

  function nodeSize(n, root) {
    let base = n.kind === "Record" ? 14 : n.kind === "Cluster" ? 38 : 28;
    if (typeof n.risk === "number") base *= 1 + Math.min(Math.max(n.risk, 0), 1);
    return n.id === root ? base * 1.4 : base;
  }

  /* The node data that follow from its risk score: its size and the high-risk ring. */
  function riskData(n, root) {
    return { size: nodeSize(n, root), highRisk: typeof n.risk === "number" && n.risk >= HIGH_RISK };
  }

  /* A record's status on the date drawn: the page sets `status`, an export has it among its
     details. */
  function recordStatus(n) {
    if (n.kind !== "Record") return null;
    return n.status || (n.details || {}).status || null;
  }

  function toElements(hood) {
    const nodes = hood.nodes.map((n) => {
      // a cluster's label is its count and relation ("2500 × shareholder"): never cut
      let short = n.label.length > 16 && n.kind !== "Cluster" ? n.label.slice(0, 15) + "…" : n.label;
      const status = recordStatus(n);
      if (RECORD_STATUS[status]) short += "\n" + RECORD_STATUS[status];
      return {
        group: "nodes",
        data: Object.assign({}, n, riskData(n, hood.root), { short: short, recordStatus: status }),
        classes: n.id === hood.root ? "root" : "",
      };
    });
    const edges = hood.edges.map((e) => ({ group: "edges", data: Object.assign({}, e) }));
    return nodes.concat(edges);
  }

  function stylesheet() {
    return [
      { selector: "node", style: {
        "label": "data(short)", "font-family": FONT, "font-size": 10, "color": "#222",
        "text-valign": "bottom", "text-margin-y": 3, "width": "data(size)",
        "height": "data(size)", "background-color": PALETTE.Cluster, "border-width": 1,
        "border-color": "#ffffff", "text-background-color": "#ffffff",
        "text-background-opacity": 0.7, "text-background-padding": 1,
        "min-zoomed-font-size": 6 } },
      { selector: 'node[kind = "LegalPerson"]', style: {
        "shape": "round-rectangle", "background-color": PALETTE.LegalPerson } },
      { selector: 'node[kind = "NaturalPerson"]', style: {
        "shape": "ellipse", "background-color": PALETTE.NaturalPerson } },
      { selector: 'node[kind = "Record"]', style: {
        "shape": "diamond", "background-color": PALETTE.Record, "font-size": 7,
        "text-wrap": "wrap" } },
      { selector: 'node[kind = "Cluster"]', style: {
        "shape": "octagon", "background-color": PALETTE.Cluster, "border-color": "#777",
        "border-style": "dashed", "border-width": 2, "font-weight": "bold" } },
      { selector: "node[?sanctioned]", style: {
        "background-color": PALETTE.sanctioned, "border-color": "#7f0000", "border-width": 3 } },
      // a record's status on the date: after `sanctioned`, so a counted record under
      // objection keeps its red fill and shows the objection by its ring
      { selector: 'node[recordStatus = "under_objection"]', style: {
        "border-color": PALETTE.underObjection, "border-width": 3 } },
      { selector: 'node[recordStatus = "repaired"]', style: {
        "border-color": PALETTE.repaired, "border-width": 3 } },
      { selector: 'node[recordStatus = "expired"], node[recordStatus = "revoked"]', style: {
        "background-color": "#ffffff", "border-color": PALETTE.Record, "border-width": 2 } },
      { selector: "node[?highRisk]", style: {
        "border-color": PALETTE.highRisk, "border-width": 5 } },
      // the root is ringed outside its border: a sanctioned or high-risk root keeps its mark
      { selector: "node.root", style: { "outline-color": PALETTE.root, "outline-width": 4,
        "outline-offset": 1, "font-weight": "bold" } },
      { selector: "edge", style: {
        "curve-style": "bezier", "width": 1.5, "line-color": PALETTE.edge,
        "target-arrow-color": PALETTE.edge, "target-arrow-shape": "triangle",
        "arrow-scale": 0.8, "label": "data(label)", "font-family": FONT, "font-size": 8,
        "color": "#444", "text-rotation": "autorotate", "text-background-color": "#ffffff",
        "text-background-opacity": 0.8, "text-background-padding": 1,
        "min-zoomed-font-size": 7 } },
      // a record's line is thin and dotted; dashed and light, as a former relation's, when the
      // record no longer counts on the date (after this rule, so that it wins)
      { selector: 'edge[type = "SUBJECT_OF"]', style: {
        "line-style": "dotted", "width": 1, "target-arrow-shape": "none", "font-size": 6 } },
      { selector: "edge[!current]", style: {
        "line-style": "dashed", "line-color": PALETTE.former,
        "target-arrow-color": PALETTE.former } },
      { selector: "edge[?evidence]", style: {
        "line-style": "dotted", "target-arrow-shape": "none", "line-color": PALETTE.path } },
      { selector: ".faded", style: { "opacity": 0.2 } },
      { selector: "node.path", style: { "border-color": PALETTE.path, "border-width": 6 } },
      { selector: "edge.path", style: {
        "line-color": PALETTE.path, "target-arrow-color": PALETTE.path, "width": 5,
        "z-index": 10 } },
      { selector: "node:selected", style: { "overlay-color": "#1f77b4", "overlay-opacity": 0.25 } },
    ];
  }

  function layoutOptions(count, root) {
    if (count <= 150) {
      // nodeOverlap well above its default (4): a party joined to another by several
      // relations (a stake, a guarantee, a supply) is pulled by each, and sat on it
      return { name: "cose", animate: false, randomize: false, nodeRepulsion: () => 9000,
        nodeOverlap: 40, idealEdgeLength: () => 90, numIter: 600, fit: true, padding: 30 };
    }
    // concentric rings by depth: linear time, stays responsive at the cap
    return { name: "concentric", animate: false, fit: true, padding: 20, minNodeSpacing: 6,
      concentric: (n) => (n.id() === root ? 100 : 50 - (n.data("depth") || 0) * 10 -
        (n.data("kind") === "Record" ? 5 : 0)),
      levelWidth: () => 1 };
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* `scoreNote` says where the scores behind size and ring come from (page or export). */
  function legendItems(scoreNote) {
    const scores = scoreNote ? " — " + scoreNote : "";
    return [
      ["shape-square", PALETTE.LegalPerson, "legal person"],
      ["shape-circle", PALETTE.NaturalPerson, "natural person"],
      ["shape-diamond", PALETTE.Record, "credit record"],
      ["shape-octagon", PALETTE.Cluster, "cluster of leaves (count)"],
      ["shape-circle", PALETTE.sanctioned, "sanctioned: a counting negative record"],
      ["shape-diamond ring", PALETTE.underObjection, "record under objection"],
      ["shape-diamond ring", PALETTE.repaired, "record repaired"],
      ["shape-diamond ring hollow", PALETTE.Record, "record expired or revoked"],
      ["shape-ring", PALETTE.highRisk, "contagion score ≥ " + HIGH_RISK + "; node size grows with the score" + scores],
      ["line-solid", PALETTE.edge, "current relation: role, stake %, amount"],
      ["line-dashed", PALETTE.former, "former relation, or a record that no longer counts on the date"],
      ["line-path", PALETTE.path, "highlighted path"],
    ].concat(scoreNote ? [["line-dashed", PALETTE.path,
      "relation known only from a risk explanation (its type, no details)"]] : []);
  }

  function buildLegend(container, scoreNote) {
    container.textContent = "";
    container.appendChild(el("h2", {}, "Legend"));
    const list = el("ul", { class: "legend" });
    for (const [cls, colour, text] of legendItems(scoreNote)) {
      const item = el("li");
      const swatch = el("span", { class: "swatch " + cls });
      swatch.style.setProperty("--swatch", colour);
      item.appendChild(swatch);
      item.appendChild(el("span", {}, text));
      list.appendChild(item);
    }
    container.appendChild(list);
  }

  const DETAIL_NAMES = {
    uscc: "USCC", registration_number: "registration no.", kind: "kind", status: "status",
    industry: "industry", address: "address", id_masked: "ID (masked)", depth: "depth",
    counting_records: "counting records",
  };

  /* A details list (dl) from a flat object, skipping empty values. */
  function detailList(values) {
    const dl = el("dl");
    for (const [k, v] of Object.entries(values)) {
      if (v === null || v === undefined || v === "") continue;
      dl.appendChild(el("dt", {}, DETAIL_NAMES[k] || k.replace(/_/g, " ")));
      dl.appendChild(el("dd", {}, typeof v === "object" ? JSON.stringify(v) : v));
    }
    return dl;
  }

  function recordTable(records) {
    const table = el("table", { class: "records" });
    const head = el("tr");
    ["kind", "status", "authority", "decided", "until"].forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    for (const r of records) {
      // the status on the date drawn (stateOn), not the latest one
      const status = r.stateOn.status || r.status;
      const row = el("tr", { class: r.counting ? "counting" : "", "data-status": status });
      [r.kind + (r.listName ? " (" + r.listName + ")" : ""),
        RECORD_STATUS[status] || status.replace(/_/g, " "),
        r.authority || "", r.decisionDate || "", r.stateOn.endsOn || ""]
        .forEach((v) => row.appendChild(el("td", {}, v)));
      table.appendChild(row);
    }
    return table;
  }

  /* Plain paths (arrays of node ids) between a and b in the drawn graph: every shortest one,
     at most `limit`, by breadth-first layers; clusters and records are not crossed. */
  function shortestPaths(cy, a, b, limit) {
    const usable = (n) => n.data("kind") === "LegalPerson" || n.data("kind") === "NaturalPerson";
    const dist = new Map([[a, 0]]);
    const preds = new Map([[a, []]]);
    let frontier = [a];
    while (frontier.length && !dist.has(b)) {
      const next = [];
      for (const id of frontier) {
        cy.getElementById(id).neighborhood("node").forEach((n) => {
          if (!usable(n)) return;
          const nid = n.id();
          if (!dist.has(nid)) {
            dist.set(nid, dist.get(id) + 1);
            preds.set(nid, [id]);
            next.push(nid);
          } else if (dist.get(nid) === dist.get(id) + 1) {
            preds.get(nid).push(id);
          }
        });
      }
      frontier = next;
    }
    if (!dist.has(b)) return [];
    const paths = [];
    const walk = (id, tail) => {
      if (paths.length >= limit) return;
      if (id === a) { paths.push([a].concat(tail)); return; }
      for (const p of preds.get(id)) walk(p, [id].concat(tail));
    };
    walk(b, []);
    return paths;
  }

  /* Highlight node-id paths: their nodes and one edge per hop; everything else faded. */
  function highlightPaths(cy, paths) {
    cy.elements().removeClass("path faded");
    if (!paths.length) return cy.collection();
    let on = cy.collection();
    for (const path of paths) {
      for (let i = 0; i < path.length; i++) {
        const node = cy.getElementById(path[i]);
        on = on.union(node);
        if (i > 0) on = on.union(node.edgesWith(cy.getElementById(path[i - 1])).first());
      }
    }
    cy.elements().not(on).addClass("faded");
    on.addClass("path");
    return on;
  }

  global.CG = {
    MAX_NODES, MIN_CLUSTER, HIGH_RISK, PALETTE, RELATION_LABELS, RECORD_STATUS, FONT,
    edgeLabel, formatAmount, clusterLeaves, toElements, riskData, stylesheet, layoutOptions,
    buildLegend, detailList, recordTable, shortestPaths, highlightPaths, el,
  };
})(window);
