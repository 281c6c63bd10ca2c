// May the member send right now? The send box's side of room moderation:
//
// - muted until a time: the box is disabled and says until when ("오후 3시 10분까지 말할 수
//   없어요"); it enables itself when that time comes, or at once when they are unmuted;
// - slow mode (N seconds, owner, moderators and staff exempt): after each send, and after a
//   `slow_mode` error (its retry_after), the send button counts down ("12초 후에 보낼 수
//   있어요"); the box stays open for typing the next message;
// - removed from the room (kicked or banned, close code 4403): disabled for good, saying why.
// The server decides (it refuses with `muted`, `slow_mode`, `banned`); this only keeps the page
// from offering what would be refused, and says why.
import { show } from "../dom.js";
import { momentLabel } from "./moderation.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

export class SendGate {
  // composer: the send form; slowModeSeconds, exempt: the room's slow mode and whether it spares
  // this member; mutedUntil: ISO time or null; ready(): the countdown ended.
  constructor(composer, { slowModeSeconds = 0, exempt = false, mutedUntil = null, ready }) {
    this.composer = composer;
    this.slowModeSeconds = slowModeSeconds;
    this.isExempt = exempt;
    this.ready = ready || (() => {});
    this.mutedUntil = null;
    this.muteTimer = null;
    this.waitUntil = 0; // Date.now() when the next send is allowed (slow mode)
    this.tick = null;
    this.closedText = "";
    this.send = composer?.querySelector("[data-send]");
    this.note = composer?.querySelector("[data-composer-note]");
    this.placeholder = composer?.elements.body.placeholder ?? "";
    this.muted(mutedUntil);
  }

  // Sending would be refused now (or the page is waiting for a countdown).
  get blocked() {
    return Boolean(this.closedText) || this.#isMuted() || this.#secondsLeft() > 0;
  }

  // Why sending would be refused now, for a member who tries anyway (a GIF picked), or "".
  refusal() {
    if (this.closedText) return this.closedText;
    if (this.#isMuted()) return `${momentLabel(this.mutedUntil.toISOString())}까지 말할 수 없어요.`;
    const left = this.#secondsLeft();
    return left > 0 ? `슬로 모드예요. ${left}초 후에 보낼 수 있어요.` : "";
  }

  muted(until) {
    clearTimeout(this.muteTimer);
    this.muteTimer = null;
    this.mutedUntil = until ? new Date(until) : null;
    if (this.#isMuted()) {
      const wait = Math.min(this.mutedUntil.getTime() - Date.now() + 250, MAX_TIMER_MS);
      this.muteTimer = setTimeout(() => this.muted(this.#isMuted() ? until : null), wait);
    } else {
      this.mutedUntil = null;
    }
    this.paint();
  }

  slowMode(seconds) {
    this.slowModeSeconds = Number(seconds) || 0;
    if (!this.slowModeSeconds) this.wait(0);
  }

  exempt(yes) {
    this.isExempt = Boolean(yes);
    if (this.isExempt) this.wait(0);
  }

  // A message went through: in slow mode, the next one waits.
  sent() {
    if (this.slowModeSeconds && !this.isExempt) this.wait(this.slowModeSeconds);
    else this.paint();
  }

  // Wait `seconds` before the next send (a slow_mode error's retry_after; 0 ends a wait).
  wait(seconds) {
    this.waitUntil = seconds > 0 ? Date.now() + seconds * 1000 : 0;
    clearInterval(this.tick);
    this.tick = null;
    if (this.waitUntil) {
      this.tick = setInterval(() => {
        if (this.#secondsLeft() > 0) return this.paint();
        clearInterval(this.tick);
        this.tick = null;
        this.waitUntil = 0;
        this.paint();
        this.ready();
      }, 250);
    }
    this.paint();
  }

  // Removed from the room: nothing more can be sent from this page.
  close(text) {
    this.closedText = text;
    this.wait(0);
    this.muted(null);
  }

  // Bring the box to the current state (also after the page itself enabled it again).
  paint() {
    if (!this.composer) return;
    const { body, gif_url: gif } = this.composer.elements;
    const muted = this.#isMuted();
    const locked = Boolean(this.closedText) || muted;
    const left = this.#secondsLeft();
    body.disabled = locked;
    gif.disabled = locked;
    const gifToggle = this.composer.querySelector("[data-gif-toggle]");
    if (gifToggle) gifToggle.disabled = locked;
    body.placeholder = locked ? "지금은 말할 수 없어요" : this.placeholder;
    this.composer.classList.toggle("composer--locked", locked);
    this.composer.classList.toggle("composer--waiting", !locked && left > 0);
    let note = "";
    if (this.closedText) note = this.closedText;
    else if (muted) note = `${momentLabel(this.mutedUntil.toISOString())}까지 말할 수 없어요.`;
    if (this.note.textContent !== note) this.note.textContent = note;
    show(this.note, Boolean(note));
    const busy = this.composer.classList.contains("composer--busy");
    const label = !locked && left > 0 ? `${left}초 후에 보낼 수 있어요` : "보내기";
    if (this.send.textContent !== label) this.send.textContent = label;
    this.send.disabled = busy || locked || left > 0;
  }

  #isMuted() {
    return this.mutedUntil !== null && this.mutedUntil.getTime() > Date.now();
  }

  #secondsLeft() {
    return this.waitUntil ? Math.max(0, Math.ceil((this.waitUntil - Date.now()) / 1000)) : 0;
  }
}
