// The kiln fleet page: polls /ui/fleet.json every 2 s and redraws. Everything that comes from a
// node (details, check output, versions) is untrusted text: it goes into the page through
// textContent only, never as HTML.
"use strict";

const POLL_MS = 2000;
// location.origin, not a relative URL: a page opened as http://user:pass@host/ui would otherwise
// put the credentials into every request URL, which fetch() refuses.
const DATA_URL = new URL("/ui/fleet.json", location.origin).toString();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function none(text) {
  return el("p", { class: "none" }, text || "none");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 120) return (Math.round(seconds * 10) / 10) + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 120) return seconds + "s ago";
  if (seconds < 7200) return Math.floor(seconds / 60) + "m ago";
  if (seconds < 172800) return Math.floor(seconds / 3600) + "h ago";
  return Math.floor(seconds / 86400) + "d ago";
}

function versionCell(value, desired, cls) {
  if (!value) return el("td", { class: "mono " + cls }, "–");
  const differs = value !== desired;
  return el("td", { class: "mono " + cls + (differs ? " differs" : ""), title: differs ? "differs from desired " + desired : null }, value);
}

function nodeRow(n) {
  const badge = el("span", { class: "badge " + n.state }, n.state);
  const name = el("td", { class: "name" }, el("strong", {}, n.name), badge,
    el("div", { class: "mono hint" }, n.mac + (n.address ? "  " + n.address : "")));
  const kernelDiffers = n.kernel && n.expectedKernel && n.kernel !== n.expectedKernel;
  const kernel = el("td", { class: "mono kernel" + (kernelDiffers ? " differs" : ""),
    title: n.expectedKernel ? "expected " + n.expectedKernel : null }, n.kernel || "–");
  const stepCell = el("td", { class: "step" },
    el("span", { class: "mono" }, n.step || "never reported"),
    n.ageSeconds !== undefined && n.ageSeconds !== null ? el("div", { class: "hint age" }, age(n.ageSeconds)) : null);
  if (n.state === "failed") {
    stepCell.append(el("div", { class: "reason" }, (n.phase ? n.phase + ": " : "") + (n.detail || "no reason given")));
  } else if (n.detail) {
    stepCell.append(el("div", { class: "hint detail" }, n.detail));
  }
  if (n.drift && n.drift.length) {
    for (const d of n.drift) stepCell.append(el("div", { class: "drift-note" }, "drift: " + d));
  }
  const checks = el("td", { class: "checks" });
  if (!n.checks || n.checks.length === 0) checks.append(el("span", { class: "none" }, "–"));
  for (const c of n.checks || []) {
    const ok = c.status === "pass";
    checks.append(el("span", { class: "check " + (ok ? "pass" : c.status === "fail" ? "fail" : ""), title: c.detail || "" },
      (ok ? "✓ " : c.status === "fail" ? "✗ " : "• ") + c.check));
  }
  return el("tr", { class: "node state-" + n.state, "data-name": n.name, "data-state": n.state,
      "data-drifted": n.drift && n.drift.length ? "true" : "false" },
    name, el("td", {}, n.role, el("div", { class: "hint" }, n.bootstrapRole)),
    // A version set by a rollout's --to is the node's desired one (not drift): say who set it.
    el("td", { class: "mono desired", title: n.desiredSetBy ? "set by rollout " + n.desiredSetBy : null }, n.desired,
      n.desiredSetBy ? el("div", { class: "set-by" }, "set by rollout " + n.desiredSetBy) : null),
    versionCell(n.current, n.desired, "current"),
    versionCell(n.reported, n.desired, "reported"),
    kernel, stepCell,
    el("td", { class: "num boot" }, duration(n.bootSeconds)),
    el("td", { class: "num ready" }, duration(n.readySeconds)),
    checks);
}

function clusters(data) {
  const box = document.getElementById("clusters");
  box.replaceChildren();
  if (!data.clusters.length) { box.append(none("no clusters in the inventory")); return; }
  for (const c of data.clusters) {
    const head = el("tr", {}, ...["node", "role", "desired", "current", "reported", "kernel", "last step",
      "boot", "ready", "checks"].map(h => el("th", {}, h)));
    const table = el("table", { class: "cluster", "data-cluster": c.name }, el("thead", {}, head),
      el("tbody", {}, ...c.nodes.map(nodeRow)));
    box.append(el("h3", {}, c.name + " ",
      el("span", { class: "hint" }, c.nodes.length + " nodes, " + c.ready + " ready, " + c.failed + " failed, " +
        c.drifted + " drifted")), table);
  }
}

function versions(data) {
  const box = document.getElementById("versions");
  box.replaceChildren();
  if (!data.versions.length) { box.append(none()); return; }
  const rows = data.versions.map(v => {
    const val = v.validation;
    let verdict;
    if (!v.inStore) verdict = el("span", { class: "none" }, "not in this store");
    else if (!val) verdict = el("span", { class: "reason" }, "never validated");
    else verdict = el("span", { class: val.result === "validated" ? "check pass" : "check fail" },
      val.result + " (" + val.runId + ", " + val.provider + ", " + val.masters + "+" + val.workers + " nodes, " +
      (val.startedAt || "") + ")" + (val.result !== "validated" && val.lastValidated ? "; last validated by " + val.lastValidated : "") +
      (val.runs > 1 ? "; " + val.runs + " runs" : ""));
    return el("tr", { class: "version", "data-image": v.image }, el("td", { class: "mono" }, v.image),
      el("td", { class: "mono" }, v.kernel || "–"), el("td", { class: "num" }, v.desiredBy),
      el("td", { class: "num" }, v.runningOn), el("td", {}, verdict));
  });
  box.append(el("table", {}, el("thead", {}, el("tr", {}, ...["version", "kernel", "desired by", "running on",
    "validation"].map(h => el("th", {}, h)))), el("tbody", {}, ...rows)));
}

function channels(data) {
  const box = document.getElementById("channels");
  box.replaceChildren();
  if (!data.channels || !data.channels.length) { box.append(none()); return; }
  box.append(el("table", {}, el("thead", {}, el("tr", {}, ...["image", "environment", "version", "since", "by"]
    .map(h => el("th", {}, h)))), el("tbody", {}, ...data.channels.map(c => el("tr", { class: "channel" },
    el("td", {}, c.image), el("td", {}, c.environment), el("td", { class: "mono" }, c.version), el("td", {}, c.since || "–"),
    el("td", {}, c.by || "–"))))));
}

function rollouts(data) {
  const box = document.getElementById("rollouts");
  box.replaceChildren();
  if (!data.rollouts || !data.rollouts.length) { box.append(none()); return; }
  for (const r of data.rollouts) {
    const nodes = (r.batches || []).flatMap(b => b.nodes.map(n => Object.assign({ batch: b.index }, n)));
    const done = nodes.filter(n => n.state === "done").length;
    const bar = el("span", { class: "progress" }, el("div", {}));
    bar.firstChild.style.width = (nodes.length ? Math.round(100 * done / nodes.length) : 0) + "%";
    box.append(el("div", { class: "rollout", "data-rollout": r.id },
      el("h3", {}, r.id + " · " + r.cluster + " → " + r.target + " ", el("span", { class: "badge " + (r.state === "failed"
        || r.state === "halted" ? "failed" : r.state === "done" ? "ready" : "booting") }, r.state)),
      el("div", {}, bar, " " + done + "/" + nodes.length + " nodes",
        r.currentStep ? " · now: " + r.currentStep : "",
        " · " + duration(r.elapsedSeconds) + " of an estimated " + duration(r.estimateSeconds)),
      r.reason ? el("div", { class: "reason" }, r.reason) : null,
      el("table", {}, el("thead", {}, el("tr", {}, ...["batch", "node", "from", "to", "step", "state"].map(h => el("th", {}, h)))),
        el("tbody", {}, ...nodes.map(n => el("tr", {}, el("td", {}, n.batch), el("td", {}, n.name),
          el("td", { class: "mono" }, n.from || "–"), el("td", { class: "mono" }, n.to || "–"), el("td", {}, n.step || "–"),
          el("td", {}, n.state || "pending")))))));
  }
}

function summary(data) {
  const s = data.summary;
  document.getElementById("summary").replaceChildren(
    el("span", {}, s.nodes + " nodes"), el("span", {}, s.ready + " ready"),
    el("span", { class: s.failed ? "reason" : "" }, s.failed + " failed"),
    el("span", {}, s.drifted + " drifted"), el("span", {}, s.silent + " never reported"));
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const r = await fetch(DATA_URL, { cache: "no-store", credentials: "same-origin" });
    if (r.status === 401 || r.status === 403) {
      status.textContent = "operator credential needed: reload and sign in (user operator, password = the operator token)";
      status.className = "status error";
      return;
    }
    if (!r.ok) throw new Error("HTTP " + r.status);
    const data = await r.json();
    summary(data); clusters(data); versions(data); channels(data); rollouts(data);
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.className = "status";
    document.body.dataset.generatedAt = data.generatedAt;
  } catch (e) {
    status.textContent = "cannot reach kiln serve: " + e.message + " (retrying)";
    status.className = "status error";
  }
}

refresh();
setInterval(refresh, POLL_MS);
