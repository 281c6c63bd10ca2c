// Forms that forgive (sign-up, log-in, profile, rooms): each error sits next to its field, and
// goes away as soon as the field is right again, without sending the form. The rules are the
// server's, mirrored into the page (required, minlength, maxlength, pattern, type and
// data-same-as on the input; the field's own messages in data-error-* on it or on its
// [data-field] wrapper, see templates/_field.html). A rule without a message is left to the
// server, which still checks everything; without this script the forms are plain posts.
//
// "Reward early, punish late": while a field shows an error it is checked on every keystroke
// (the error clears the moment the value is right); new errors appear only when the form is
// sent. (Not on leaving a field: an error appearing then pushes the button away from under
// the pointer between press and release, and the click that would send the form is lost.)

function valueOf(control) {
  if (control.type === "file") return control.files && control.files.length ? "file" : "";
  if (control.type === "checkbox" || control.type === "radio") return control.checked ? "on" : "";
  // Django strips text fields (not passwords) before checking them.
  return control.type === "password" ? control.value : control.value.trim();
}

// "%(max_length)d자까지 (지금 %(length)d자)" with the numbers of this value.
function format(message, params) {
  return message.replace(/%\((\w+)\)[sd]/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

// The first rule the value breaks, as the server would word it; "" when the browser sees
// nothing wrong (or cannot tell: then the server decides).
function problem({ control, wrapper }) {
  const value = valueOf(control);
  const field = wrapper.dataset;
  const own = control.dataset;
  if (!value) return control.required ? field.errorRequired || "" : "";
  const length = [...value].length; // characters, as Python counts them
  if (control.minLength > 0 && length < control.minLength && own.errorTooShort) {
    return own.errorTooShort;
  }
  if (control.maxLength > 0 && length > control.maxLength && field.errorTooLong) {
    const max = control.maxLength;
    return format(field.errorTooLong, { max_length: max, limit_value: max, length, show_value: length });
  }
  if (control.validity.typeMismatch && field.errorType) return field.errorType;
  if (control.validity.patternMismatch && own.errorPattern) return own.errorPattern;
  if (own.sameAs && own.errorMismatch) {
    const other = control.form.elements.namedItem(own.sameAs);
    if (other && other.value && control.value !== other.value) return own.errorMismatch;
  }
  return "";
}

function describedBy(control, id, on) {
  const ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
  if (on) ids.push(id);
  if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
  else control.removeAttribute("aria-describedby");
}

function render(entry, messages) {
  const { control, wrapper, box } = entry;
  const text = messages.join("\n");
  entry.showing = messages.length > 0;
  if (box.dataset.shown === text && box.childElementCount === messages.length) return;
  box.dataset.shown = text; // the same message again is not re-announced by the live region
  box.replaceChildren(
    ...messages.map((message) => {
      const p = document.createElement("p");
      p.className = "field__error";
      p.textContent = message;
      return p;
    }),
  );
  wrapper.classList.toggle("field--invalid", entry.showing);
  if (entry.showing) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
  describedBy(control, box.id, entry.showing);
  entry.onChange();
}

// What the field shows now: the browser's finding first; else the server's own message while
// the value is still the one it judged (a taken name, a common password); else nothing.
function refresh(entry) {
  const message = problem(entry);
  if (message) render(entry, [message]);
  else if (entry.server.length && valueOf(entry.control) === entry.judged) render(entry, entry.server);
  else render(entry, []);
  return message;
}

// The summary at the top keeps only the fields that still need fixing, and goes when none do.
function pruneSummary(form) {
  const summary = form.querySelector("[data-form-errors]");
  if (!summary) return;
  for (const link of summary.querySelectorAll("[data-error-link]")) {
    const control = form.querySelector(`#${CSS.escape(link.dataset.errorLink)}`);
    if (control && control.getAttribute("aria-invalid") !== "true") link.remove();
  }
  const list = summary.querySelector(".form-errors__fields");
  if (list && !list.querySelector("[data-error-link]")) list.remove();
  if (!summary.querySelector("p")) summary.remove();
}

function enhance(form) {
  const entries = [];
  for (const wrapper of form.querySelectorAll("[data-field]")) {
    const control = wrapper.querySelector("input:not([type=hidden]), textarea, select");
    const box = wrapper.querySelector("[data-field-errors]");
    if (!control || !box) continue;
    const server = [...box.querySelectorAll(".field__error")].map((p) => p.textContent);
    const entry = {
      control,
      wrapper,
      box,
      server,
      judged: valueOf(control),
      showing: server.length > 0,
      onChange: () => pruneSummary(form),
    };
    box.dataset.shown = server.join("\n");
    entries.push(entry);
  }
  if (!entries.length) return;
  form.noValidate = true; // our messages, in the site's words, instead of the browser's bubbles

  const edited = (entry) => {
    if (entry.showing) refresh(entry);
    // A confirmation showing "different" clears as soon as the field it repeats matches it.
    for (const other of entries) {
      if (other.control.dataset.sameAs === entry.control.name && other.showing) refresh(other);
    }
  };
  for (const entry of entries) {
    entry.control.addEventListener("input", () => edited(entry));
    entry.control.addEventListener("change", () => edited(entry));
  }

  form.addEventListener("submit", (event) => {
    let first = null;
    for (const entry of entries) {
      if (refresh(entry) && !first) first = entry;
    }
    if (first) {
      event.preventDefault();
      first.control.focus();
    }
  });

  // The summary's links put the cursor in the field, not only the field in view.
  form.addEventListener("click", (event) => {
    const link = event.target.closest("[data-error-link]");
    const target = link && form.querySelector(`#${CSS.escape(link.dataset.errorLink)}`);
    if (!target) return;
    event.preventDefault();
    target.focus();
    target.scrollIntoView({ block: "center" });
  });

  // A page that came back with errors: start at the first field to fix.
  const invalid = entries.find((entry) => entry.showing);
  if (invalid) invalid.control.focus();
}

for (const form of document.querySelectorAll("form")) enhance(form);
