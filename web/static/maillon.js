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

// After htmx replaces the part that held the focus, put the focus on the new part (when it
// accepts it), so that keyboard and screen-reader users are not thrown back to the top.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.elt;
  if (document.activeElement === document.body && target && target.tabIndex === -1) {
    target.focus();
  }
});

// <form data-confirm="Question?">: ask before submitting (plain forms; htmx has hx-confirm).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// <button data-copy="input-id">: copy that input's value, and say so.
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const input = document.getElementById(button.dataset.copy);
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = "Copied";
  } catch {
    // No clipboard access (an insecure origin, or refused): the text is selected instead.
    button.textContent = "Selected: press Ctrl+C";
  }
});

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
