// What a member does to a message: reply, react (chips and a picker), edit inline, delete with
// a confirm, report it (reportMessage), open its author's menu (memberMenu). Every control is a
// real <button> with a Korean name; a message's toolbar shows on hover or keyboard focus
// (desktop) and on a tap or long-press (touch), and is one tab stop whose buttons the arrow keys
// move between. Nothing changes on the page until the server's
// frame says so, except an acknowledged edit (shown at once; its frame follows).
import { el } from "../dom.js";
import { isSendKey } from "../keys.js";
import { EmojiPicker } from "./picker.js";
import { editable } from "./render.js";

const CHANGE_ERRORS = {
  not_found: "메시지를 찾을 수 없어요. 새로고침해 주세요.",
  forbidden: "이 메시지는 바꿀 수 없어요.",
  deleted: "이미 삭제된 메시지예요.",
  rate_limited: "너무 빨리 하고 있어요. 잠시 후 다시 해 주세요.",
  unavailable: "잠시 저장하지 못했어요. 다시 해 주세요.",
  timeout: "서버가 응답하지 않아요. 다시 해 주세요.",
  auth_required: "로그인이 필요해요. 새로고침 후 다시 로그인해 주세요.",
  muted: "지금은 말할 수 없어서 반응도 달 수 없어요.",
  banned: "이 방에서 차단되어 할 수 없어요.",
};
const WHAT = {
  "chat.edit": "수정할",
  "chat.delete": "삭제할",
  "chat.react": "반응할",
  "chat.unreact": "반응을 취소할",
};
const FLASH_MS = 1600;
const SETTLE_MS = 3000;

export class MessageActions {
  // list: MessageList; client: ChatClient; dialog: the delete confirm (<dialog>); toast(text);
  // reply(msg): start a reply in the composer; done(): where focus goes after an edit;
  // memberMenu(msg, button): the author's menu; reportMessage(msg, button): the report dialog.
  constructor({ list, client, dialog, windowSeconds, toast, reply, done, memberMenu, report }) {
    this.list = list;
    this.client = client;
    this.dialog = dialog;
    this.windowSeconds = windowSeconds;
    this.toast = toast;
    this.reply = reply;
    this.done = done;
    this.memberMenu = memberMenu;
    this.reportMessage = report;
    this.editing = null; // {msg, form, textarea, pendingId, returnFocus}
    this.pending = new Map(); // client_msg_id -> {frame, msg}
    this.reacting = new Map(); // "event_id emoji" -> timer, while a reaction is on its way
    this.touch = window.matchMedia("(hover: none)");
    this.picker = new EmojiPicker({ choose: (msg, emoji) => this.#toggleReaction(msg, emoji) });

    const messages = list.list;
    messages.addEventListener("click", (event) => this.#click(event));
    messages.addEventListener("keydown", (event) => this.#toolbarKeys(event));
    messages.addEventListener("contextmenu", (event) => this.#longPress(event));
    // The edit button comes and goes with the edit window; check when a toolbar is shown.
    messages.addEventListener("pointerover", (event) => this.#refresh(event.target));
    messages.addEventListener("focusin", (event) => this.#refresh(event.target));
    document.addEventListener("click", (event) => {
      if (!event.target.closest?.(".msg--active")) this.#deactivate();
    });
  }

  // --- the server's answers (ChatClient view) ----------------------------------------------

  acked(frame) {
    const pending = this.pending.get(frame.client_msg_id);
    if (!pending) return;
    this.pending.delete(frame.client_msg_id);
    if (frame.type === "chat.edit") {
      const now = new Date().toISOString();
      this.list.edited({ event_id: frame.event_id, body: frame.body, edited_at: now });
      if (this.editing?.pendingId === frame.client_msg_id) this.#closeEditor();
    } else if (frame.type === "chat.react" || frame.type === "chat.unreact") {
      // Its chat.reaction frame is right behind; a second click waits for it (or a moment).
      const key = `${frame.event_id} ${frame.emoji}`;
      clearTimeout(this.reacting.get(key));
      this.reacting.set(key, setTimeout(() => this.reacting.delete(key), SETTLE_MS));
    }
  }

  failed(frame, code, detail) {
    const pending = this.pending.get(frame.client_msg_id);
    this.pending.delete(frame.client_msg_id);
    if (frame.emoji) this.#settle(frame.event_id, frame.emoji);
    this.toast(changeError(frame.type, code, detail, this.windowSeconds));
    if (this.editing?.pendingId === frame.client_msg_id) {
      if (code === "edit_window_closed" || code === "deleted" || code === "not_found") {
        this.#closeEditor();
      } else {
        this.editing.pendingId = null;
        this.editing.textarea.readOnly = false;
        this.editing.textarea.focus();
      }
    }
    if (code === "edit_window_closed" && pending?.msg) this.#refresh(pending.msg.item);
  }

  // A change frame was applied to the list.
  changed(frame) {
    if (frame.type === "chat.reaction" && frame.user?.id === this.list.meId) {
      this.#settle(frame.event_id, frame.emoji);
    }
    if (frame.type === "chat.deleted") {
      if (this.editing?.msg.eventId === frame.event_id) this.#closeEditor(false);
      if (this.picker.msg?.eventId === frame.event_id) this.picker.close(false);
    }
  }

  // ↑ in an empty composer: edit my newest message that may still be edited.
  editLast() {
    const msg = this.list.lastEditable(this.windowSeconds);
    if (!msg) return false;
    this.#openEditor(msg, document.activeElement);
    return true;
  }

  // --- clicks --------------------------------------------------------------------------------

  #click(event) {
    const control = event.target.closest("[data-action]");
    const item = event.target.closest(".msg");
    const msg = this.list.of(item);
    if (!control) {
      // A tap on a message shows its toolbar on touch screens.
      if (msg && this.touch.matches && !event.target.closest("a, button, form")) {
        this.#activate(item);
      }
      return;
    }
    if (msg && control.dataset.action === "member") {
      this.#deactivate();
      this.memberMenu(msg, control);
      return;
    }
    if (!msg || msg.deleted) return;
    switch (control.dataset.action) {
      case "reply":
        this.#deactivate();
        this.reply(msg);
        break;
      case "react":
        this.picker.toggle(msg, control);
        break;
      case "edit":
        this.#openEditor(msg, control);
        break;
      case "delete":
        this.#confirmDelete(msg, control);
        break;
      case "report":
        this.#deactivate();
        this.reportMessage(msg, control);
        break;
      case "toggle-reaction":
        this.#toggleReaction(msg, control.dataset.emoji);
        break;
      case "quote":
        this.#goToOriginal(control.dataset.target);
        break;
      default:
        break;
    }
  }

  #longPress(event) {
    const item = event.target.closest(".msg");
    if (!item || !this.touch.matches || item.classList.contains("msg--deleted")) return;
    if (event.target.closest("a, img")) return; // keep "save image" and "copy link"
    event.preventDefault();
    this.#activate(item);
  }

  #activate(item) {
    const was = item.classList.contains("msg--active");
    this.#deactivate();
    if (!was && !item.classList.contains("msg--deleted")) {
      this.#refresh(item);
      item.classList.add("msg--active");
    }
  }

  #deactivate() {
    for (const item of this.list.list.querySelectorAll(".msg--active")) {
      item.classList.remove("msg--active");
    }
  }

  // The toolbar is one tab stop: ←/→ (and Home/End) move between its buttons.
  #toolbarKeys(event) {
    const bar = event.target.closest(".msg__actions");
    if (!bar || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const buttons = [...bar.querySelectorAll("button")].filter((b) => !b.hidden);
    const at = buttons.indexOf(event.target);
    if (at < 0) return;
    event.preventDefault();
    const last = buttons.length - 1;
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: last }[event.key];
    const next = buttons[(to + buttons.length) % buttons.length];
    for (const b of buttons) b.tabIndex = b === next ? 0 : -1;
    next.focus();
  }

  // Hide the edit button once the edit window has passed.
  #refresh(target) {
    const item = target?.closest?.(".msg");
    const msg = this.list.of(item);
    const edit = item?.querySelector('.msg__actions [data-action="edit"]');
    if (!msg || !edit) return;
    const open = editable(msg, this.windowSeconds);
    if (edit.hidden === !open) return;
    edit.hidden = !open;
    if (!open && edit.tabIndex === 0) {
      edit.tabIndex = -1;
      item.querySelector(".msg__actions button").tabIndex = 0;
    }
  }

  #send(msg, fields) {
    const frame = this.client.change({ event_id: msg.eventId, ...fields });
    this.pending.set(frame.client_msg_id, { frame, msg });
    return frame;
  }

  // --- reactions -------------------------------------------------------------------------

  #toggleReaction(msg, emoji) {
    if (msg.deleted || this.list.meId === null) return;
    const key = `${msg.eventId} ${emoji}`;
    if (this.reacting.has(key)) return; // the last click is still on its way
    const mine = msg.reactions.get(emoji)?.me;
    this.reacting.set(key, null);
    this.#send(msg, { type: mine ? "chat.unreact" : "chat.react", emoji });
  }

  #settle(eventId, emoji) {
    const key = `${eventId} ${emoji}`;
    clearTimeout(this.reacting.get(key));
    this.reacting.delete(key);
  }

  // --- going to a reply's original ---------------------------------------------------------

  #goToOriginal(eventId) {
    const msg = this.list.get(eventId);
    if (!msg) {
      this.toast("원래 메시지가 이 화면에 없어요. 이전 메시지를 더 불러와 보세요.");
      return;
    }
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    msg.item.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
    msg.item.focus({ preventScroll: true });
    msg.item.classList.remove("msg--flash");
    void msg.item.offsetWidth; // restart the animation when clicked twice
    msg.item.classList.add("msg--flash");
    clearTimeout(msg.flashTimer);
    msg.flashTimer = setTimeout(() => msg.item.classList.remove("msg--flash"), FLASH_MS);
  }

  // --- inline edit ---------------------------------------------------------------------------

  #openEditor(msg, returnFocus) {
    if (!editable(msg, this.windowSeconds)) {
      this.toast(changeError("chat.edit", "edit_window_closed", "", this.windowSeconds));
      this.#refresh(msg.item);
      return;
    }
    this.#closeEditor(false);
    this.#deactivate();
    const form = el("form", "msg__editor");
    form.noValidate = true;
    const id = `edit-${msg.eventId}`;
    const label = el("label", "visually-hidden", "메시지 수정");
    label.htmlFor = id;
    const textarea = el("textarea");
    textarea.id = id;
    textarea.rows = 1;
    textarea.maxLength = 2000;
    textarea.value = msg.body;
    const cancel = el("button", "link-button", "취소");
    cancel.type = "button";
    const save = el("button", "button button--primary button--small", "저장");
    save.type = "submit";
    const row = el("div", "msg__editor-row");
    row.append(el("span", "msg__editor-hint", "Enter 저장 · Esc 취소"), cancel, save);
    form.append(label, textarea, row);

    const bubble = msg.item.querySelector(".msg__bubble");
    const body = bubble.querySelector(".msg__body");
    const gif = bubble.querySelector(".msg__gif");
    if (body) body.after(form);
    else if (gif) gif.before(form);
    else bubble.append(form);
    msg.item.classList.add("msg--editing");
    this.editing = { msg, form, textarea, pendingId: null, returnFocus };

    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.#closeEditor();
      } else if (isSendKey(event)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    cancel.addEventListener("click", () => this.#closeEditor());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#saveEdit();
    });
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    msg.item.scrollIntoView({ block: "nearest" });
  }

  #saveEdit() {
    const editing = this.editing;
    if (!editing || editing.pendingId) return;
    const body = editing.textarea.value.trim();
    if (body === editing.msg.body.trim()) {
      this.#closeEditor();
      return;
    }
    if (!body && !editing.msg.gifUrl) {
      this.toast("내용을 입력해 주세요. 지우려면 삭제를 눌러 주세요.");
      return;
    }
    editing.textarea.readOnly = true;
    editing.pendingId = this.#send(editing.msg, { type: "chat.edit", body }).client_msg_id;
  }

  #closeEditor(restoreFocus = true) {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    editing.form.remove();
    editing.msg.item.classList.remove("msg--editing");
    if (!restoreFocus) return;
    const back = editing.returnFocus;
    if (back && back.isConnected && back !== document.body) back.focus();
    else this.done();
  }

  // --- delete ----------------------------------------------------------------------------

  #confirmDelete(msg, control) {
    this.#deactivate();
    const dialog = this.dialog;
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "delete" && !msg.deleted) {
          this.#send(msg, { type: "chat.delete" });
        }
        if (control.isConnected) control.focus();
        else msg.item.focus({ preventScroll: true });
      },
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector('[value="cancel"]').focus();
  }
}

function changeError(type, code, detail, windowSeconds) {
  if (code === "edit_window_closed") {
    return `수정할 수 있는 시간(${Math.round(windowSeconds / 60)}분)이 지났어요.`;
  }
  if (CHANGE_ERRORS[code]) return CHANGE_ERRORS[code];
  const what = WHAT[type] || "바꿀";
  if (code === "invalid_payload") {
    if (type === "chat.react" || type === "chat.unreact") return "이 이모지로는 반응할 수 없어요.";
    return detail ? `${what} 수 없어요: ${detail}` : `${what} 수 없는 내용이에요.`;
  }
  return `${what} 수 없었어요. 다시 해 주세요.`;
}
