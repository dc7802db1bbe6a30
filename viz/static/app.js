/* credgraph /viz: search a party, draw its neighbourhood, explore it. Every answer comes from
   the GraphQL API with the analyst's key: the page shows what the key's role may see, nothing
   else. Data text only ever enters the page through textContent (never as HTML). */
(function () {
  "use strict";

  const KEY = "credgraph.key";
  const PURPOSE = "credgraph.purpose";
  const FETCH_CAP = 5000; // linked parties fetched for one drawing, page by page
  const RELATION_TYPES = [
    "LEGAL_REPRESENTATIVE_OF", "PRINCIPAL_OF", "EXECUTIVE_OF", "RESPONSIBLE_FOR",
    "REGISTERED_PROFESSIONAL_OF", "PRACTISES_AT", "ACTUAL_CONTROLLER_OF", "SHAREHOLDER_OF",
    "INVESTS_IN", "BRANCH_OF", "GUARANTEES", "SUPPLIES", "MEMBER_OF", "PARTICIPATES_IN",
  ];

  const RELATION = `type fromId toId role stake amount validFrom validTo current source
                    sourceRecord`;
  const PARTY = `__typename id name
    records { id category kind listName scheme grade status underObjection authority
              decisionDate stateOn(asOf: $asOf) { status listed counts endsOn } }
    ... on LegalPerson { uscc registrationNumber kind status industry address }
    ... on NaturalPerson { idMasked }`;
  const SEARCH_LIMIT = 200; // the API ranks at most this many matches (MAX_SEARCH_LIMIT)
  const SEARCH = `query ($name: String!, $asOf: Date) {
    search(name: $name, first: 20) { totalCount edges { node { ${PARTY} } } } }`;
  const ENTITY = `query ($id: String!, $asOf: Date) { entity(id: $id) { ${PARTY} } }`;
  const LINKED = `query ($id: String!, $depth: Int!, $types: [RelationType!], $asOf: Date,
                        $former: Boolean!, $after: String) {
    linkedParties(id: $id, depth: $depth, relationTypes: $types, asOf: $asOf,
                  includeFormer: $former, after: $after) {
      root { ${PARTY} }
      totalCount exploredDepth truncated relationsTruncated
      pageInfo { hasNextPage endCursor }
      items { depth parentId
              via { ${RELATION} }
              party { ${PARTY} } }
      relations { ${RELATION} } } }`;

  const PATH_DEPTH = 4; // the API's default largest depth (CREDGRAPH_MAX_DEPTH)
  const PATH_COUNT = 5;
  const PATHS = `query ($from: String!, $to: String!, $depth: Int!, $first: Int, $asOf: Date) {
    paths(from: $from, to: $to, maxDepth: $depth, first: $first, asOf: $asOf) {
      exploredDepth truncated
      paths { length parties { ${PARTY} } hops { ${RELATION} } } } }`;
  // one page of hits, nearest first: as many as the deployment's page holds
  // (CREDGRAPH_MAX_PAGE_SIZE, `first` left out)
  const TRACE = `query ($id: String!, $depth: Int!, $types: [RelationType!], $asOf: Date,
                       $former: Boolean!) {
    dishonestParties(id: $id, depth: $depth, relationTypes: $types, asOf: $asOf,
                     includeFormer: $former) {
      totalCount truncated exploredDepth
      items { distance path { length parties { ${PARTY} } hops { ${RELATION} } } } } }`;
  const FLAG = `code own proposal rule viaFirmId viaFirmName viaRelation viaRole
    record { id kind sector status startsOn endsOn counts underObjection authority
             decisionNumber decisionDate }`;
  const RISK = `query ($id: String!, $asOf: Date) {
    riskReport(id: $id, asOf: $asOf) {
      found asOf profile profileVersion snapshotId clearsOn
      flags { ${FLAG} } proposals { ${FLAG} } underObjection { id kind status }
      contagion { available score clearsOn
                  paths { partyIds relations contribution recordId } } } }`;
  const SCORE_NOTE = "scores from riskReport: the drawn root and every party opened in the panel";

  const $ = (id) => document.getElementById(id);
  const state = {
    rootId: null, nodes: new Map(), edges: new Map(), notices: [], drawn: null,
    pathFrom: null, pathTo: null, busy: false, queue: [], reports: new Map(),
  };

  const cy = cytoscape({
    container: $("graph"), style: CG.stylesheet(), wheelSensitivity: 0.3,
    minZoom: 0.05, maxZoom: 4,
  });

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function asOf() { return $("as-of").value || null; }

  async function gql(query, variables) {
    // without a key the call goes as the public role, which a deployment may allow
    // (CREDGRAPH_API_PUBLIC_ACCESS); one that does not answers 401
    const key = sessionStorage.getItem(KEY);
    const headers = {
      "Content-Type": "application/json",
      "X-Credgraph-Purpose": sessionStorage.getItem(PURPOSE) || "analysis",
    };
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch("/graphql", {
      method: "POST", headers: headers, body: JSON.stringify({ query: query, variables: variables }),
    });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401) {
      throw new Error(key ? "the API refused the key: enter a valid key" : "enter an API key first");
    }
    if (!response.ok && !(body && body.errors)) throw new Error("the API answered " + response.status);
    if (body.errors && body.errors.length) {
      const error = new Error(body.errors.map((e) => e.message).join("; "));
      error.codes = body.errors.map((e) => (e.extensions || {}).code);
      throw error;
    }
    return body.data;
  }

  // --- the neighbourhood as the API returns it ------------------------------------------------

  /* Whether a record counts on the date, as the API's `stateOn` says by the store's own rule
     (its status on that date, its kind's default term), not from its latest `status`. */
  function counting(record) {
    return record.category === "SanctionEvent" && record.stateOn.counts;
  }

  function partyDetails(p) {
    const d = {};
    if (p.__typename === "LegalPerson") {
      Object.assign(d, { uscc: p.uscc, registration_number: p.registrationNumber, kind: p.kind,
        status: p.status, industry: p.industry, address: p.address });
    } else {
      d.id_masked = p.idMasked;
    }
    return d;
  }

  function addParty(p, depth) {
    const existing = state.nodes.get(p.id);
    if (existing && existing.depth <= depth) return existing;
    // as the record stood on the date drawn: one not yet started is not in the picture
    const records = (p.records || []).filter((r) => r.stateOn.listed);
    const node = {
      id: p.id, kind: p.__typename, label: p.name || p.id, depth: depth,
      sanctioned: records.some(counting), details: partyDetails(p), records: records,
      risk: scoreOf(p.id), pinned: existing ? existing.pinned : false,
    };
    state.nodes.set(p.id, node);
    if ($("records").checked) {
      for (const r of records) {
        const rid = "record:" + r.id;
        if (!state.nodes.has(rid)) {
          state.nodes.set(rid, {
            id: rid, kind: "Record", label: r.listName || r.grade || r.kind.replace(/_/g, " "),
            depth: depth, sanctioned: counting(r), record: r, status: r.stateOn.status,
            details: { kind: r.kind, status: r.stateOn.status, authority: r.authority,
              decided: r.decisionDate, until: r.stateOn.endsOn },
          });
        }
        const eid = "record:" + p.id + ":" + r.id;
        state.edges.set(eid, { id: eid, source: p.id, target: rid, type: "SUBJECT_OF",
          label: CG.RECORD_STATUS[r.stateOn.status] || r.stateOn.status,
          // a record that does not count (or hold) on the date, negative or positive, is drawn
          // as ended, as a former relation is
          current: r.stateOn.counts, details: {} });
      }
    }
    return node;
  }

  /* One edge per stored relation: a `via` hop and the same relation among `relations` (or
     read again by a later page, expand or path) share the id, so each is drawn once; a former
     relation is its own edge beside a current one, dashed. */
  function addRelation(via) {
    const id = [via.type, via.fromId, via.toId, via.source || "", via.sourceRecord || ""].join(":");
    state.edges.set(id, {
      id: id, source: via.fromId, target: via.toId, type: via.type,
      label: CG.edgeLabel(via.type, via), current: via.current,
      details: { role: via.role, stake: via.stake, amount: via.amount, valid_from: via.validFrom,
        valid_to: via.validTo, source: via.source, source_record: via.sourceRecord },
    });
  }

  function chosenTypes() {
    const boxes = Array.from(document.querySelectorAll("#relation-types input"));
    const on = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!on.length) throw new Error("choose at least one relation type");
    return on.length === boxes.length ? null : on;
  }

  /* Every page of linkedParties from `id`, up to FETCH_CAP parties, with every relation among
     them: a page's `relations` are those its parties add to the earlier pages and the root,
     so the pages together give the whole network, not only the tree of `via` hops. */
  async function fetchLinked(id, depth, baseDepth) {
    let after = null;
    let fetched = 0;
    let answer = null;
    let relationsCut = false;
    const variables = { id: id, depth: depth, types: chosenTypes(), asOf: asOf(),
      former: $("former").checked };
    do {
      const data = await gql(LINKED, Object.assign({}, variables, { after: after }));
      answer = data.linkedParties;
      if (!answer) return null;
      if (after === null) addParty(answer.root, baseDepth);
      for (const item of answer.items) {
        addParty(item.party, baseDepth + item.depth);
        addRelation(item.via);
      }
      answer.relations.forEach(addRelation);
      relationsCut = relationsCut || answer.relationsTruncated;
      fetched += answer.items.length;
      after = answer.pageInfo.hasNextPage ? answer.pageInfo.endCursor : null;
      status("fetched " + fetched + " of " + answer.totalCount + " linked parties…");
    } while (after && fetched < FETCH_CAP);
    const notices = [];
    if (answer.truncated) {
      // the API keeps what it read of the level its cap cut, and reads no further
      notices.push("the API read depth " + answer.exploredDepth + " only in part (a hub there " +
        "has more relations than its cap): some parties at that depth, and all beyond, " +
        "are not shown");
    }
    if (relationsCut) {
      notices.push("the API capped its read of the relations among the farthest parties: " +
        "some of them are not drawn");
    }
    if (after) notices.push("fetched the first " + fetched + " of " + answer.totalCount +
      " linked parties (page cap " + FETCH_CAP + ")");
    return notices;
  }

  async function drawRoot(id) {
    await run("drawing…", () => draw(id));
  }

  /* The picture drawn again as the controls now say; its root is read when the drawing runs,
     so a change made while another party is being drawn redraws that party, not the last. */
  function drawAgain() {
    if (!state.rootId && !state.busy) return;
    if (state.queue.some((item) => item.work === again)) return; // one redraw is enough
    run("drawing…", again);
  }

  async function again() {
    if (state.rootId) await draw(state.rootId);
  }

  async function draw(id) {
    const shown = { nodes: state.nodes, edges: state.edges };
    state.nodes = new Map();
    state.edges = new Map();
    // the path picks stay: a path may join a party of this picture to one of an earlier one
    updatePathForm();
    let notices = null;
    let refused = null;
    try {
      notices = await fetchLinked(id, Number($("depth").value), 0);
    } catch (error) {
      // a role refused linkedParties (public, approval) may still read the party itself
      if (!(error.codes || []).includes("FORBIDDEN")) throw error;
      refused = error.message;
      notices = await drawAlone(id, refused);
    } finally {
      // a refused or failed read leaves the last picture on screen: its nodes still open
      if (notices === null) Object.assign(state, shown);
    }
    if (notices === null) {
      status("nothing found for this id (or your role may not see it)", true);
      return;
    }
    state.rootId = id;
    state.notices = notices;
    redraw();
    if (refused) status(refused + ": only the party itself is drawn", true);
    showParty(state.nodes.get(id));
  }

  /* The party alone, from `entity`: what a role refused linkedParties may see of it. */
  async function drawAlone(id, refused) {
    const data = await gql(ENTITY, { id: id, asOf: asOf() });
    if (!data.entity) return null;
    addParty(data.entity, 0);
    return ["linked parties not shown: " + refused];
  }

  // --- risk reports (riskReport): scores and explanations --------------------------------------

  function reportKey(id) { return id + "@" + (asOf() || "today"); }

  function scoreOf(id) {
    const report = state.reports.get(reportKey(id));
    const contagion = report && report.contagion;
    return contagion && contagion.available && typeof contagion.score === "number"
      ? contagion.score : undefined;
  }

  /* The party's risk report, read once per party and date; a refusal is kept as the answer. */
  async function riskReport(id) {
    const key = reportKey(id);
    if (!state.reports.has(key)) {
      try {
        const data = await gql(RISK, { id: id, asOf: asOf() });
        state.reports.set(key, data.riskReport || { found: false });
      } catch (error) {
        return { refused: error.message };
      }
    }
    const report = state.reports.get(key);
    applyScore(id);
    return report;
  }

  /* Size and ring of a drawn node from its contagion score, without a new layout. */
  function applyScore(id) {
    const node = state.nodes.get(id);
    if (!node) return;
    node.risk = scoreOf(id);
    const drawn = cy.getElementById(id);
    if (drawn.nonempty()) drawn.data(Object.assign({ risk: node.risk }, CG.riskData(node, state.rootId)));
  }

  async function expand(id) {
    await run("expanding…", async () => {
      const node = state.nodes.get(id);
      if (!node) throw new Error("that party is no longer drawn: draw it again to expand it");
      const base = node.depth;
      const notices = await fetchLinked(id, 1, base);
      state.notices = state.notices.concat(notices || []);
      redraw();
    });
  }

  function redraw() {
    const hood = {
      root: state.rootId, nodes: Array.from(state.nodes.values()),
      edges: Array.from(state.edges.values()).filter(
        (e) => state.nodes.has(e.source) && state.nodes.has(e.target)),
      notices: state.notices.slice(),
    };
    const drawn = CG.clusterLeaves(hood, CG.MAX_NODES);
    state.drawn = drawn;
    cy.batch(() => {
      cy.elements().remove();
      cy.add(CG.toElements(drawn));
    });
    cy.layout(CG.layoutOptions(drawn.nodes.length, drawn.root)).run();
    $("notices").textContent = drawn.notices.join(" · ");
    const parties = drawn.nodes.filter((n) => n.kind !== "Record" && n.kind !== "Cluster").length;
    const folded = drawn.nodes.filter((n) => n.kind === "Cluster").reduce((t, n) => t + n.count, 0);
    const edges = drawn.edges.length;
    status(parties + (parties === 1 ? " party" : " parties") +
      (folded ? " and " + folded + " in clusters" : "") + ", " +
      edges + (edges === 1 ? " edge" : " edges") + " drawn" +
      (drawn.truncated ? " (cut: see the notice)" : ""));
    document.body.dataset.drawn = String(Date.now());
  }

  /* One request at a time. Those asked for meanwhile (a second search, a depth changed while
     a hub is drawn) are not dropped: they run in turn when the current one ends, so the
     picture ends as the last search and the controls say. */
  async function run(message, work) {
    if (state.busy) {
      state.queue.push({ message: message, work: work });
      return;
    }
    state.busy = true;
    status(message);
    try {
      await work();
    } catch (error) {
      status(error.message, true);
    } finally {
      state.busy = false;
    }
    const next = state.queue.shift();
    if (next) await run(next.message, next.work);
  }

  // --- search ---------------------------------------------------------------------------------

  function looksLikeCode(text) {
    // a USCC or resident ID, an id credgraph prints (REG:, DOC:, FTM:, a person's token), an
    // organisation code, a registration number, or a tax number (15 to 20 letters and digits)
    return /^[0-9A-Za-z]{18}$/.test(text) || /^(REG|DOC|FTM):/i.test(text) ||
      /^[0-9a-f]{32}$/.test(text) || /^[0-9A-Za-z]{8}-?[0-9Xx]$/.test(text) ||
      /^\d{13,15}$/.test(text) || /^(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{15,20}$/.test(text);
  }

  async function search(text) {
    $("results").textContent = "";
    await run("searching…", async () => {
      if (looksLikeCode(text)) {
        const data = await gql(ENTITY, { id: text, asOf: asOf() });
        if (!data.entity) { status("no party with this code (or your role may not see it)", true); return; }
        await draw(data.entity.id);
        return;
      }
      const data = await gql(SEARCH, { name: text, asOf: asOf() });
      const found = data.search.edges.map((e) => e.node);
      if (!found.length) {
        // the API matches a name exactly or from its start, never from its middle
        status("no party whose name begins with “" + text + "” (names match from their " +
          "first character: 厦门鹭岛 finds 厦门鹭岛科技有限公司, 鹭岛 does not)", true);
        return;
      }
      for (const p of found) {
        const item = CG.el("li", { "data-id": p.id });
        item.appendChild(CG.el("span", {}, p.name));
        item.appendChild(CG.el("span", { class: "code" }, p.uscc || p.registrationNumber ||
          p.idMasked || p.__typename));
        item.addEventListener("click", () => drawRoot(p.id));
        $("results").appendChild(item);
      }
      const total = data.search.totalCount;
      status((total >= SEARCH_LIMIT ? "at least " : "") + total + " found" +
        (found.length === 1 ? "" : ": choose one") +
        (total > found.length ? " (the first " + found.length + " are listed: give more of " +
          "the name to narrow them)" : ""));
      if (found.length === 1) await draw(found[0].id);
    });
  }

  // --- the side panel -------------------------------------------------------------------------

  function button(label, action, name) {
    const b = CG.el("button", { type: "button", "data-action": name || label }, label);
    b.addEventListener("click", action);
    return b;
  }

  function showParty(node) {
    const panel = $("panel");
    panel.textContent = "";
    panel.dataset.node = node.id;
    panel.appendChild(CG.el("h2", {}, node.label));
    const kind = CG.el("p", { class: "kind" }, node.kind === "LegalPerson" ? "legal person" : "natural person");
    if (node.sanctioned) kind.appendChild(CG.el("span", { class: "sanctioned" }, " · sanctioned"));
    panel.appendChild(kind);
    panel.appendChild(CG.detailList(Object.assign({ depth: node.depth }, node.details)));
    const actions = CG.el("div", { class: "actions" });
    actions.appendChild(button("expand neighbours", () => expand(node.id), "expand"));
    actions.appendChild(button("draw from here", () => drawRoot(node.id), "reroot"));
    actions.appendChild(button("path from", () => { state.pathFrom = pick(node); updatePathForm(); }, "path-from"));
    actions.appendChild(button("path to", () => { state.pathTo = pick(node); updatePathForm(); }, "path-to"));
    actions.appendChild(button("trace dishonest parties", () => trace(node.id), "trace"));
    panel.appendChild(actions);
    panel.appendChild(CG.el("h3", {}, "Records"));
    if (node.records.length) {
      panel.appendChild(CG.recordTable(node.records.map((r) => Object.assign({ counting: counting(r) }, r))));
    } else {
      panel.appendChild(CG.el("p", { class: "hint" }, "no records your role may see"));
    }
    panel.appendChild(CG.el("h3", {}, "Risk"));
    panel.appendChild(riskExplanation(node));
  }

  /* The risk section, from riskReport: flags with their reason codes, proposals, records under
     objection, the contagion score with its clearing date and the paths that explain it (a
     button highlights each, adding the parties the picture lacks). A role refused riskReport,
     or one that does not see contagion scores, is told so: nothing is made up in its place. */
  function riskExplanation(node) {
    const box = CG.el("div", { class: "risk", "data-state": "loading" });
    box.appendChild(CG.el("p", { class: "hint" }, "reading the risk report…"));
    riskReport(node.id).then((report) => {
      if ($("panel").dataset.node !== node.id) return; // another node was opened meanwhile
      box.textContent = "";
      fillRisk(box, node, report);
      box.dataset.state = report.refused ? "refused" : "done";
    });
    return box;
  }

  function fillRisk(box, node, report) {
    if (report.refused) {
      box.appendChild(CG.el("p", { class: "hint refused" },
        "risk report not shown: " + report.refused + ". Flags, proposals and scores are " +
        "not available to this key's role."));
      return;
    }
    if (!report.found) {
      box.appendChild(CG.el("p", { class: "hint" }, "no risk report for this party"));
      return;
    }
    box.appendChild(CG.el("p", { class: "hint" }, "as of " + report.asOf + " · profile " +
      report.profile + " " + report.profileVersion + " · snapshot " + report.snapshotId));
    box.appendChild(flagList("flags", report.flags, "no status flag"));
    box.appendChild(flagList("proposals (a person decides)", report.proposals, "no proposal"));
    if (report.underObjection.length) {
      box.appendChild(CG.el("p", {}, "under objection: " +
        report.underObjection.map((r) => r.kind + " (" + r.status + ")").join(", ")));
    }
    const contagion = report.contagion;
    if (!contagion) {
      box.appendChild(CG.el("p", { class: "hint refused" },
        "contagion score: not shown to this key's role"));
      return;
    }
    if (!contagion.available) {
      box.appendChild(CG.el("p", { class: "hint" }, "contagion score: not available"));
      return;
    }
    box.appendChild(CG.el("p", { class: "score" }, "contagion score " +
      contagion.score.toFixed(3) + (contagion.clearsOn ? ", clears on " + contagion.clearsOn : "")));
    if (!contagion.paths.length) {
      box.appendChild(CG.el("p", { class: "hint" }, "no path explains a score"));
      return;
    }
    const list = CG.el("ol", { class: "explanations" });
    contagion.paths.forEach((path, i) => {
      const item = CG.el("li", {}, path.partyIds.map(partyName).join(" → ") +
        (typeof path.contribution === "number" ? " (contributes " + path.contribution.toFixed(3) + ")" : ""));
      item.appendChild(button("highlight", () => explain(node.id, path), i === 0 ? "explain" : "explain-" + i));
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function flagList(title, flags, none) {
    const box = CG.el("div", { class: "flags" });
    box.appendChild(CG.el("h4", {}, title));
    if (!flags.length) { box.appendChild(CG.el("p", { class: "hint" }, none)); return box; }
    const list = CG.el("ul");
    for (const f of flags) {
      const item = CG.el("li", { "data-code": f.code });
      item.appendChild(CG.el("strong", { class: "code" }, f.code));
      const via = f.own ? "own record" : "via " + (f.viaFirmName || f.viaFirmId || "a linked party") +
        (f.viaRole ? " (" + f.viaRole.replace(/_/g, " ") + ")" : "");
      const record = f.record
        ? f.record.kind + ", " + f.record.status + (f.record.authority ? ", " + f.record.authority : "") +
          (f.record.endsOn ? ", until " + f.record.endsOn : "")
        : "record hidden from this role";
      item.appendChild(document.createTextNode(" — " + via + "; " + record));
      list.appendChild(item);
    }
    box.appendChild(list);
    return box;
  }

  function partyName(id) {
    const node = state.nodes.get(id);
    return node ? node.label : id.length > 12 ? id.slice(0, 10) + "…" : id;
  }

  /* Highlight an explaining path; parties it names that are not drawn are read with `entity`
     and added, with the relation type the path names between them. */
  async function explain(from, path) {
    await run("highlighting the explaining path…", async () => {
      const missing = path.partyIds.filter((id) => !state.nodes.has(id));
      if (missing.length) await addEntities(missing, depthNear(path.partyIds));
      for (let i = 1; i < path.partyIds.length; i++) {
        const a = path.partyIds[i - 1], b = path.partyIds[i];
        if (!state.nodes.has(a) || !state.nodes.has(b) || linked(a, b)) continue;
        const type = String(path.relations[i - 1] || "").replace(/^RelationType\./, "");
        const id = "evidence:" + a + ":" + b;
        state.edges.set(id, { id: id, source: a, target: b, type: type, evidence: true,
          label: CG.RELATION_LABELS[type] || type.toLowerCase(), current: true, details: {} });
      }
      const shown = path.partyIds.filter((id) => state.nodes.has(id));
      shown.forEach((id) => { state.nodes.get(id).pinned = true; });
      if (missing.length) redraw();
      CG.highlightPaths(cy, [shown]);
      status("highlighted the path explaining the score of " + partyName(from) +
        (missing.length ? " (" + missing.length + " parties added)" : "") +
        (shown.length < path.partyIds.length ? "; " + (path.partyIds.length - shown.length) +
          " parties on it are hidden from this role" : ""));
      document.body.dataset.explained = String(Date.now());
    });
  }

  function linked(a, b) {
    for (const e of state.edges.values()) {
      if ((e.source === a && e.target === b) || (e.source === b && e.target === a)) return true;
    }
    return false;
  }

  /* The depth to give parties added from a path: one past the nearest drawn party on it. */
  function depthNear(ids) {
    const known = ids.filter((id) => state.nodes.has(id)).map((id) => state.nodes.get(id).depth);
    return (known.length ? Math.min.apply(null, known) : 0) + 1;
  }

  /* Read parties by id with one `entity` call each, in one request (aliases). */
  async function addEntities(ids, depth) {
    const names = ids.map((_, i) => "p" + i);
    const query = "query (" + names.map((n) => "$" + n + ": String!").join(", ") +
      ", $asOf: Date) { " +
      names.map((n) => n + ": entity(id: $" + n + ") { " + PARTY + " }").join(" ") + " }";
    const variables = { asOf: asOf() };
    names.forEach((n, i) => { variables[n] = ids[i]; });
    const data = await gql(query, variables);
    for (const n of names) if (data[n]) addParty(data[n], depth);
  }

  function showCluster(data) {
    const panel = $("panel");
    panel.textContent = "";
    panel.dataset.node = data.id;
    panel.appendChild(CG.el("h2", {}, data.label));
    panel.appendChild(CG.el("p", { class: "kind" },
      data.count + " leaf parties folded into one node to keep the picture readable; " +
      "click one to draw from it"));
    const list = CG.el("ul", { class: "members" });
    for (const member of data.members || []) {
      const item = CG.el("li", {}, member.label);
      item.addEventListener("click", () => drawRoot(member.id));
      list.appendChild(item);
    }
    panel.appendChild(list);
  }

  function showRecord(data) {
    const panel = $("panel");
    panel.textContent = "";
    panel.dataset.node = data.id;
    panel.appendChild(CG.el("h2", {}, data.label));
    panel.appendChild(CG.el("p", { class: "kind" }, "credit record" + (data.sanctioned ? " · counting" : "")));
    panel.appendChild(CG.recordTable([Object.assign({ counting: data.sanctioned }, data.record)]));
  }

  // --- paths ----------------------------------------------------------------------------------

  function pick(node) { return { id: node.id, label: node.label }; }

  function updatePathForm() {
    const name = (end) => (end ? end.label : "—");
    $("path-from").textContent = name(state.pathFrom);
    $("path-to").textContent = name(state.pathTo);
    $("draw-path").disabled = !(state.pathFrom && state.pathTo && state.pathFrom.id !== state.pathTo.id);
  }

  /* Shortest paths from the API (`paths`, over the relations that hold on the page's as-of
     date, today when none is chosen, up to PATH_DEPTH steps): the parties and relations the
     picture lacks are added, then the paths highlighted. */
  async function drawPaths() {
    await run("finding paths…", async () => {
      const data = await gql(PATHS, { from: state.pathFrom.id, to: state.pathTo.id,
        depth: PATH_DEPTH, first: PATH_COUNT, asOf: asOf() });
      const answer = data.paths;
      const paths = answer ? answer.paths : [];
      const cut = answer && answer.truncated;
      if (!paths.length) {
        cy.elements().removeClass("path faded");
        status(cut
          ? "no path found: a cap cut the search short after " + answer.exploredDepth +
            " step(s), so a path of at most " + PATH_DEPTH + " steps may still exist"
          : "no path of at most " + PATH_DEPTH + " steps over the relations of " +
            (asOf() || "today") + " " +
            "(or one through a party your role may not see)", true);
        document.body.dataset.paths = "0";
        return;
      }
      const added = addPaths(paths);
      if (state.rootId === null) state.rootId = state.pathFrom.id;
      redraw();
      CG.highlightPaths(cy, paths.map((p) => p.parties.map((party) => party.id)));
      const steps = Array.from(new Set(paths.map((p) => p.length))).join(", ");
      status(paths.length + " shortest path(s) from the API, of " + steps + " step(s)" +
        addedNote(added) + (cut ? "; a cap cut the search short: shorter paths may exist" : ""));
      document.body.dataset.paths = String(paths.length);
    });
  }

  /* Add the parties and relations of `paths` (each with `parties` and `hops`, as `paths` and
     `dishonestParties` answer) that the picture lacks, pinned; how many parties were added. */
  function addPaths(paths) {
    const added = new Set();
    for (const path of paths) {
      let depth = depthNear(path.parties.map((p) => p.id)) - 1;
      for (const party of path.parties) {
        if (!state.nodes.has(party.id)) added.add(party.id); // its records are no parties
        depth = state.nodes.has(party.id) ? state.nodes.get(party.id).depth : depth + 1;
        addParty(party, depth).pinned = true;
      }
      path.hops.forEach(addRelation);
    }
    return added.size;
  }

  function addedNote(added) {
    if (!added) return ", all already drawn";
    return ", " + added + (added === 1 ? " party" : " parties") + " added to the picture";
  }

  /* Dishonest-party tracing from the API (`dishonestParties`, over the relation types, date
     and depth the controls say): every party with a counting negative record within that many
     steps, nearest first, each with a shortest path; the picture gains what it lacks of those
     paths and highlights them. What the role may not see is neither drawn nor counted. */
  async function trace(id) {
    await run("tracing dishonest parties…", async () => {
      const depth = Number($("depth").value);
      const data = await gql(TRACE, { id: id, depth: depth, types: chosenTypes(), asOf: asOf(),
        former: $("former").checked });
      const answer = data.dishonestParties;
      const within = " within " + depth + (depth === 1 ? " step" : " steps") + " of " + partyName(id);
      if (!answer || !answer.items.length) {
        cy.elements().removeClass("path faded");
        status("no dishonest party" + within + (answer && answer.truncated
          ? " in what the API read (a cap cut the trace short)" : ""));
        document.body.dataset.traced = "0";
        return;
      }
      const paths = answer.items.map((item) => item.path);
      const added = addPaths(paths);
      if (state.rootId === null) state.rootId = id;
      redraw();
      CG.highlightPaths(cy, paths.map((p) => p.parties.map((party) => party.id)));
      const total = answer.totalCount;
      status(total + (total === 1 ? " dishonest party" : " dishonest parties") + within +
        (total > answer.items.length ? " (the nearest " + answer.items.length + " drawn)" : "") +
        addedNote(added) +
        (answer.truncated ? "; a cap cut the trace short: there may be more" : ""));
      document.body.dataset.traced = String(answer.items.length);
    });
  }

  // --- wiring ---------------------------------------------------------------------------------

  function init() {
    CG.buildLegend($("legend"), SCORE_NOTE);
    for (const type of RELATION_TYPES) {
      const label = CG.el("label");
      const box = CG.el("input", { type: "checkbox", value: type });
      box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + (CG.RELATION_LABELS[type] || type)));
      $("relation-types").appendChild(label);
    }
    if (sessionStorage.getItem(PURPOSE)) $("purpose").value = sessionStorage.getItem(PURPOSE);
    $("key-state").textContent = sessionStorage.getItem(KEY) ? "key set for this tab" : "no key";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (key) sessionStorage.setItem(KEY, key);
      state.reports.clear(); // another key may be another role: read its reports anew
      sessionStorage.setItem(PURPOSE, $("purpose").value);
      $("key").value = "";
      $("key-state").textContent = sessionStorage.getItem(KEY) ? "key set for this tab" : "no key";
    });
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      search($("query").value.trim());
    });
    for (const id of ["depth", "as-of", "former", "records"]) {
      $(id).addEventListener("change", drawAgain);
    }
    $("relation-types").addEventListener("change", drawAgain);
    $("draw-path").addEventListener("click", drawPaths);
    $("clear-path").addEventListener("click", () => {
      state.pathFrom = state.pathTo = null;
      updatePathForm();
      cy.elements().removeClass("path faded");
    });
    cy.on("tap", "node", (event) => {
      const data = event.target.data();
      if (data.kind === "Cluster") showCluster(data);
      else if (data.kind === "Record") showRecord(data);
      else showParty(state.nodes.get(data.id));
    });
    cy.on("tap", (event) => { if (event.target === cy) cy.elements().removeClass("path faded"); });
  }

  init();
  window.cgPage = { cy: cy, state: state, search: search, drawRoot: drawRoot, expand: expand,
    showParty: showParty };
})();
