// The reaction picker: six common emoji, and "더보기" for any other (typed or pasted; the
// server accepts exactly one emoji grapheme). One picker per page, opened under the message.
import { el } from "../dom.js";

export const COMMON_EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🔥"];

const graphemes = new Intl.Segmenter("ko", { granularity: "grapheme" });
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

// The one emoji in `text`, or null.
export function oneEmoji(text) {
  const value = text.trim();
  const parts = [...graphemes.segment(value)];
  return parts.length === 1 && EMOJI.test(value) ? value : null;
}

export class EmojiPicker {
  // choose(msg, emoji): react with `emoji` (or take it back when it is already mine).
  constructor({ choose }) {
    this.choose = choose;
    this.msg = null;
    this.anchor = null;

    const root = el("div", "picker");
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "반응 고르기");
    root.id = "reaction-picker";
    const common = el("div", "picker__common");
    this.buttons = COMMON_EMOJI.map((emoji) => {
      const b = el("button", "picker__emoji", emoji);
      b.type = "button";
      b.title = `${emoji} 반응`;
      b.addEventListener("click", () => this.#pick(emoji));
      return b;
    });
    this.more = el("button", "picker__more", "더보기");
    this.more.type = "button";
    this.more.setAttribute("aria-expanded", "false");
    this.more.setAttribute("aria-controls", "reaction-picker-other");
    common.append(...this.buttons, this.more);

    const form = el("form", "picker__other");
    form.id = "reaction-picker-other";
    form.noValidate = true;
    form.hidden = true;
    const label = el("label", "visually-hidden", "다른 이모지");
    label.htmlFor = "reaction-picker-input";
    this.input = el("input", "picker__input");
    this.input.id = "reaction-picker-input";
    this.input.type = "text";
    this.input.autocomplete = "off";
    this.input.placeholder = "이모지 하나 입력";
    this.input.setAttribute("aria-describedby", "reaction-picker-error");
    const add = el("button", "button button--small", "달기");
    add.type = "submit";
    this.error = el("p", "picker__error");
    this.error.id = "reaction-picker-error";
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    form.append(label, this.input, add, this.error);
    root.append(common, form);
    this.root = root;
    this.form = form;

    this.more.addEventListener("click", () => {
      const showing = form.hidden;
      form.hidden = !showing;
      this.more.setAttribute("aria-expanded", String(showing));
      if (showing) this.input.focus();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const emoji = oneEmoji(this.input.value);
      this.error.hidden = Boolean(emoji);
      if (!emoji) {
        this.error.textContent = "이모지 하나만 입력해 주세요.";
        this.input.focus();
        return;
      }
      this.#pick(emoji);
    });
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    // Leaving the picker (a click or Tab elsewhere) closes it; its own button toggles it.
    root.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (to && !root.contains(to) && to !== this.anchor) this.close(false);
    });
    document.addEventListener("pointerdown", (event) => {
      if (this.msg && !root.contains(event.target) && event.target !== this.anchor) {
        this.close(false);
      }
    });
  }

  toggle(msg, anchor) {
    if (this.msg === msg) this.close();
    else this.open(msg, anchor);
  }

  open(msg, anchor) {
    this.close(false);
    this.msg = msg;
    this.anchor = anchor;
    this.form.hidden = true;
    this.error.hidden = true;
    this.input.value = "";
    this.more.setAttribute("aria-expanded", "false");
    COMMON_EMOJI.forEach((emoji, i) => {
      const mine = Boolean(msg.reactions.get(emoji)?.me);
      this.buttons[i].setAttribute("aria-pressed", String(mine));
    });
    anchor.setAttribute("aria-expanded", "true");
    anchor.setAttribute("aria-controls", this.root.id);
    msg.item.classList.add("msg--picking");
    msg.item.querySelector(".msg__meta").append(this.root);
    this.root.scrollIntoView({ block: "nearest" });
    this.buttons[0].focus();
  }

  close(restoreFocus = true) {
    if (!this.msg) return;
    const { msg, anchor } = this;
    this.msg = null;
    this.anchor = null;
    msg.item.classList.remove("msg--picking");
    anchor.setAttribute("aria-expanded", "false");
    const hadFocus = this.root.contains(document.activeElement);
    this.root.remove();
    if (restoreFocus && hadFocus && anchor.isConnected) anchor.focus();
    else if (restoreFocus && hadFocus) msg.item.focus({ preventScroll: true });
  }

  #pick(emoji) {
    const msg = this.msg;
    if (!msg) return;
    this.close();
    this.choose(msg, emoji);
  }
}
