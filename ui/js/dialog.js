// Confirmation dialogs on <dialog> (modal, keyboard: Esc cancels, Enter confirms).
import { h } from "./dom.js";

/** confirmDialog(title, lines, {confirm, input}) → Promise of false (cancelled), true, or
 * the input's value when `input` ({label, type, value, min, max}) is given. */
export function confirmDialog(title, lines, opts = {}) {
  return new Promise((resolve) => {
    let input = null;
    const parts = [h("h2", title), ...[].concat(lines).map((l) => h("p", l))];
    if (opts.input) {
      input = h("input", { id: "dialog-input", type: opts.input.type || "text",
        value: opts.input.value, min: opts.input.min, max: opts.input.max, required: true });
      parts.push(h("div.field", h("label", { for: "dialog-input" }, opts.input.label), input));
    }
    const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
    const ok = h("button.primary", { type: "submit", value: "ok" }, opts.confirm || "Confirm");
    const form = h("form", { method: "dialog" }, parts, h("div.actions", cancel, ok));
    const dlg = h("dialog.confirm", { "aria-label": title }, form);
    cancel.addEventListener("click", () => dlg.close("cancel"));
    dlg.addEventListener("close", () => {
      const yes = dlg.returnValue === "ok";
      dlg.remove();
      resolve(yes ? (input ? input.value : true) : false);
    });
    form.addEventListener("submit", (ev) => {
      if (input && !input.checkValidity()) { ev.preventDefault(); input.reportValidity(); }
    });
    document.body.append(dlg);
    dlg.showModal();
    (input || ok).focus();
  });
}
