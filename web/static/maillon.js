// Maillon's own behaviour for every page. No inline script anywhere (the pages'
// Content-Security-Policy forbids it): pages say what they need with data- attributes.
"use strict";

// CSRF: every htmx request carries the token in a header, read when the request is made
// from the csrftoken cookie (the page's own copy could be stale once htmx has swapped parts
// of it). Unsafe requests without it are refused with 403.
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["x-csrftoken"] = csrfToken();
});

// After htmx replaces the part that held the focus, put the focus back on the element of the
// same id in the new part (a switch, a button), else on the new part when it accepts it, so
// that keyboard and screen-reader users are not thrown back to the top.
let focusedId = "";

document.addEventListener("htmx:beforeSwap", () => {
  focusedId = document.activeElement ? document.activeElement.id : "";
});

document.addEventListener("htmx:afterSettle", (event) => {
  if (document.activeElement !== document.body) {
    return;
  }
  const again = focusedId && document.getElementById(focusedId);
  const target = event.detail.elt;
  if (again) {
    again.focus();
  } else if (target && target.tabIndex === -1) {
    target.focus();
  }
});

// An htmx request that failed (the server answered an error, or could not be reached) swaps
// nothing: say so where messages go, rather than leave the page as if nothing had happened
// (a token made but never shown, a switch that looks switched). The text comes from the
// body's data-request-failed, in the reader's language.
function sayRequestFailed() {
  const region = document.getElementById("messages");
  const text = document.body.dataset.requestFailed;
  if (!region || !text) {
    return;
  }
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = "⚠";
  const label = document.createElement("span");
  label.className = "visually-hidden";
  label.textContent = document.body.dataset.errorLabel || "";
  const line = document.createElement("p");
  line.className = "message message-error";
  line.append(icon, label, " ", text);
  region.replaceChildren(line);
}

document.addEventListener("htmx:responseError", sayRequestFailed);
document.addEventListener("htmx:sendError", sayRequestFailed);

// <form data-confirm="Question?">: ask before submitting (plain forms; htmx has hx-confirm).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// <button data-copy="input-id" data-copied="…" data-copy-failed="…">: copy that input's
// value, and say so (in the page's language: the words come with the button).
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const input = document.getElementById(button.dataset.copy);
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = button.dataset.copied;
  } catch {
    // No clipboard access (an insecure origin, or refused): the text is selected instead.
    button.textContent = button.dataset.copyFailed;
  }
});

// -- the flow editor --------------------------------------------------------------------------

// The field picker inserts "{{ event.x }}" at the cursor of the template input used last.
// mousedown is cancelled so that the input keeps its focus and selection; a keyboard user
// tabbing to a field button moves the focus, so the input is remembered, not read from focus.
// The picker names that input, as tabbing through the form on the way changes it.
let lastTemplateInput = null;
// Whether the cursor in that input was placed by the user: tabbing into an input selects
// all its text (or puts the cursor first), and a field inserted there would replace it.
let cursorPlaced = false;

// "URL, step 1": the input's label as shown (without its required mark), and its step's
// number; the words come with the picker, in the page's language.
function templateInputName(input, format) {
  const label = document.querySelector(`label[for="${input.id}"]`);
  let name = input.name;
  if (label) {
    const shown = label.cloneNode(true);
    shown.querySelectorAll(".required, .visually-hidden").forEach((mark) => mark.remove());
    name = shown.textContent.trim();
  }
  const number = input.closest("section.step")?.querySelector("h2 .step-number");
  if (!number) {
    return name;
  }
  return format.replace("{input}", () => name).replace("{step}", () => number.textContent.trim());
}

function showPickerTarget() {
  const shown = document.getElementById("picker-target");
  let input = lastTemplateInput;
  if (input && !document.body.contains(input)) {
    input = document.getElementById(input.id);
  }
  if (shown && input) {
    shown.querySelector("strong").textContent = templateInputName(input, shown.dataset.format);
    shown.hidden = false;
    offerEarlierSteps(input);
  }
}

// A step's input can read the event and the steps before it: the outputs of that step and of
// the later ones do not exist yet when it is rendered. Inputs outside the steps (the trigger's
// dedup key, a digest's item) read the event alone.
function offerEarlierSteps(input) {
  const step = input.closest("[data-step-index]");
  const before = step ? Number(step.dataset.stepIndex) : 0;
  let left = false;
  for (const tree of document.querySelectorAll("#picker .tree[data-step]")) {
    tree.hidden = Number(tree.dataset.step) >= before;
    left ||= tree.hidden;
  }
  const said = document.getElementById("picker-later");
  if (said) {
    said.hidden = !left;
  }
}

document.addEventListener("focusin", (event) => {
  if (event.target.matches && event.target.matches("[data-template]")) {
    lastTemplateInput = event.target;
    cursorPlaced = false;
    showPickerTarget();
  }
});

// What places the cursor: a click, typing, or a key that moves it (not Tab, nor the keys a
// screen reader or a shortcut uses).
const caretKeys = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End",
  "PageUp", "PageDown"]);

for (const type of ["mouseup", "keyup", "input"]) {
  document.addEventListener(type, (event) => {
    if (event.target === lastTemplateInput && (type !== "keyup" || caretKeys.has(event.key))) {
      cursorPlaced = true;
    }
  });
}

document.addEventListener("htmx:afterSettle", showPickerTarget);

document.addEventListener("mousedown", (event) => {
  if (event.target.closest && event.target.closest("[data-insert]")) {
    event.preventDefault();
  }
});

function announce(text) {
  const region = document.getElementById("messages");
  if (region) {
    region.replaceChildren(Object.assign(document.createElement("p"), {
      className: "message message-info", textContent: text,
    }));
  }
}

// Whether position ``at`` of a JSON input is outside every string of JSON text: where a value
// goes, not inside one. An input that is not JSON text (empty, one template, plain text) has
// no JSON around the cursor: what is inserted there is the whole value, as it is.
function jsonValueAt(value, at) {
  const head = value.trimStart();
  if (!/^[[{]/.test(head) || /^\{[{%]/.test(head)) {
    return false;
  }
  let inString = false;
  for (let i = 0; i < at; i += 1) {
    if (inString && value[i] === "\\") {
      i += 1; // the escaped character, a quote included
    } else if (value[i] === '"') {
      inString = !inString;
    }
  }
  return !inString;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-insert]");
  if (!button) {
    return;
  }
  event.preventDefault();
  let input = lastTemplateInput;
  if (input && !document.body.contains(input)) {
    // The editor was re-rendered since: the input with the same id is the one meant, its
    // cursor where the new input has it (not placed by the user).
    input = document.getElementById(input.id);
    lastTemplateInput = input;
    cursorPlaced = false;
  }
  if (!input) {
    announce(button.closest("[data-click-first]").dataset.clickFirst);
    return;
  }
  // Not placed by the user (the input was tabbed into): at the end, replacing nothing.
  const start = cursorPlaced ? input.selectionStart ?? input.value.length : input.value.length;
  const end = cursorPlaced ? input.selectionEnd ?? input.value.length : input.value.length;
  let text = button.dataset.insert;
  if (input.hasAttribute("data-json") && jsonValueAt(input.value, start)) {
    // A template where JSON takes a value goes in quotes (quoted alone, it keeps its type).
    text = `"${text}"`;
  }
  input.focus();
  input.setRangeText(text, start, end, "end");
  input.dispatchEvent(new Event("input", { bubbles: true }));
});

// Edits not saved yet: leaving the page (a link, "Switch off", closing the tab) asks first.
// The editor says when the server saved what it held (data-edits="saved").
let unsavedEdits = false;

function isEdit(event) {
  const target = event.target;
  return target.closest && target.closest("#editor") && !target.closest("[data-not-an-edit]");
}

for (const type of ["input", "change"]) {
  document.addEventListener(type, (event) => {
    if (isEdit(event)) {
      unsavedEdits = true;
    }
  });
}

document.addEventListener("click", (event) => {
  // Adding, moving or removing a step changes the flow without an input event.
  const op = "#editor [hx-vals*='\"op\"']:not([hx-vals*='refresh'])";
  if (event.target.closest && event.target.closest(op)) {
    unsavedEdits = true;
  }
});

document.addEventListener("submit", (event) => {
  // Discarding or deleting, once confirmed (data-confirm cancels the event otherwise).
  if (!event.defaultPrevented && event.target.hasAttribute("data-discards-edits")) {
    unsavedEdits = false;
  }
});

window.addEventListener("beforeunload", (event) => {
  if (unsavedEdits && document.getElementById("editor")) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// An input's warnings were worked out when the draft was saved: once its preview follows
// what is typed, they may no longer hold (the preview says what is wrong now).
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target && target.id && target.id.startsWith("preview-")) {
    const name = target.id.slice("preview-".length);
    document.querySelectorAll(`[data-warning-for="${CSS.escape(name)}"]`).forEach((w) => w.remove());
  }
});

// After a step was added, moved or removed, the editor marks the step to go to.
document.addEventListener("htmx:afterSettle", () => {
  const step = document.querySelector("#editor [data-focus]");
  if (step) {
    step.removeAttribute("data-focus");
    step.focus();
    step.scrollIntoView({ block: "nearest" });
  }
});

document.addEventListener("htmx:afterSettle", () => {
  const editor = document.getElementById("editor");
  if (!editor || !editor.dataset.edits) {
    return;
  }
  if (editor.dataset.edits === "saved") {
    unsavedEdits = false;
  } else if (editor.dataset.edits === "refused") {
    // Refused: to the first problem's input (its reason is read with it), not the top; a
    // problem of a whole step goes to the step.
    const first = editor.querySelector(".problem");
    if (first) {
      for (let folded = first.closest("details"); folded; folded = folded.parentElement.closest("details")) {
        folded.open = true;
      }
      const field = first.closest(".field");
      const control = (field && field.querySelector("input:not([type=hidden]), select, textarea"))
        || first.closest("section")?.querySelector("h2[tabindex]") || first;
      control.scrollIntoView({ block: "center" });
      control.focus();
    }
  }
  delete editor.dataset.edits; // said once: later swaps of its parts do not say it again
});

// Filters: the field picker's tree and the list of actions, as the user types.
document.addEventListener("input", (event) => {
  const target = event.target;
  if (target.matches("[data-filter-fields]")) {
    const wanted = target.value.trim().toLowerCase();
    for (const item of document.querySelectorAll("#picker .tree li")) {
      const text = item.textContent.toLowerCase();
      item.hidden = wanted !== "" && !text.includes(wanted);
      if (wanted && !item.hidden) {
        const details = item.querySelector("details");
        if (details) {
          details.open = true;
        }
      }
    }
  } else if (target.matches("[data-filter-actions]")) {
    const wanted = target.value.trim().toLowerCase();
    for (const item of document.querySelectorAll("[data-action-text]")) {
      item.hidden = wanted !== "" && !item.dataset.actionText.includes(wanted);
    }
    for (const group of document.querySelectorAll("[data-action-group]")) {
      group.hidden = !group.querySelector("[data-action-text]:not([hidden])");
    }
  }
});

// "Wait for a test event": once a delivery arrives it becomes the sample, and the editor is
// rendered again against it.
document.addEventListener("htmx:afterSwap", (event) => {
  const arrived = event.detail.elt.closest && event.detail.elt.closest("[data-sample-arrived]");
  const found = arrived || document.querySelector("#wait[data-sample-arrived]");
  if (!found || found.dataset.used) {
    return;
  }
  found.dataset.used = "1";
  const select = document.getElementById("f-sample_event");
  if (!select) {
    return;
  }
  if (select.tagName === "SELECT") {
    select.add(new Option(found.dataset.sampleLabel, found.dataset.sampleArrived));
  }
  select.value = found.dataset.sampleArrived;
  // A sample arriving is not an edit of the flow: leaving afterwards need not ask.
  const edited = unsavedEdits;
  htmx.trigger(select.tagName === "SELECT" ? select : select.form.querySelector("#f-trigger_type"), "change");
  unsavedEdits = edited;
});

// "New connection" in the editor: the connection form in a dialog; once saved, the new
// connection is chosen in the select that asked for it.
let connectionSelect = null;

document.addEventListener("click", (event) => {
  const opener = event.target.closest && event.target.closest("[data-new-connection]");
  if (opener) {
    connectionSelect = document.getElementById(opener.dataset.for);
    const dialog = document.getElementById("connection-dialog");
    // The form arrives after the dialog opens: the focus goes to its first input then.
    htmx.ajax("GET", `/connections/new?app=${encodeURIComponent(opener.dataset.newConnection)}&inline=1`,
      { target: "#connection-dialog-body", swap: "innerHTML" })
      .then(() => dialog.querySelector("#connection-dialog-body input:not([type=hidden]), #connection-dialog-body select")?.focus());
    dialog.showModal();
    return;
  }
  const closer = event.target.closest && event.target.closest("[data-close-dialog]");
  if (closer) {
    closer.closest("dialog").close();
  }
});

document.addEventListener("connection-created", (event) => {
  const dialog = document.getElementById("connection-dialog");
  if (connectionSelect && event.detail && event.detail.name) {
    connectionSelect.add(new Option(event.detail.name, event.detail.name, true, true));
    // Chosen for the step: an edit like any other (to save before leaving).
    connectionSelect.dispatchEvent(new Event("change", { bubbles: true }));
  }
  if (dialog) {
    dialog.close();
  }
});

// -- the runs list ----------------------------------------------------------------------------

// <input data-period-range="select-id">: typing a date there chooses "between the dates" in
// that select. In the capture phase, so that the choice is made before htmx sends the form.
document.addEventListener(
  "change",
  (event) => {
    const input = event.target;
    const selectId = input.dataset && input.dataset.periodRange;
    if (selectId && input.value) {
      document.getElementById(selectId).value = "range";
    }
  },
  true,
);
