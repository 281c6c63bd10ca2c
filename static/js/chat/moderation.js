// Who runs the room and what they do (docs/protocol.md, room moderation).
//
// - Roster: the owner, the moderators, slow mode, the reader's own role, and — for the owner,
//   moderators and staff — who is muted or banned. It starts from what the page came with,
//   follows the action frames (each is absolute for what it changes, so a replay ends where the
//   room is) and is read again from GET /api/rooms/<id>/moderation/ when a role changes and
//   when the settings panel opens.
// - actionLine(frame): the system line every member sees for an action.
// - MemberMenu: a member's menu, from a message author's name or the "접속 중" list: their
//   profile, mentioning them, and for those who may act on them mute (10 min, 1 h, 1 day) or
//   unmute, kick, ban (with an optional reason) or unban, and (owner, staff) moderator or not.
// - ModerationPanel: "방 관리" for the owner and staff: moderators, slow mode, muted, banned.
// - ReasonDialog: the one <dialog> that asks why (a report, a ban).
// Every action goes over the room socket as `room.moderate` (ChatClient.request); nothing on
// the page changes until the action's frame comes back, except what an error says.
import { el, show } from "../dom.js";
import { request } from "../http.js";

export const ROLE_NAMES = { owner: "방장", moderator: "매니저", staff: "운영자" };
const MUTES = [
  [600, "10분"],
  [3600, "1시간"],
  [86400, "1일"],
];
export const SLOW_MODES = [0, 10, 30, 60, 300];
const MAX_SLOW_MODE = 600;
const PANEL_DONE = {
  dismiss: "매니저에서 해제했어요.",
  unmute: "다시 말할 수 있게 했어요.",
  unban: "차단을 풀었어요.",
};

// --- words ---------------------------------------------------------------------------------------

// "오후 3시 10분", with the day when it is not today ("내일 오전 9시", "6월 3일 오후 3시 10분").
export function momentLabel(iso) {
  const when = new Date(iso);
  const hours = when.getHours();
  const minutes = when.getMinutes();
  const clock = `${hours < 12 ? "오전" : "오후"} ${hours % 12 || 12}시${minutes ? ` ${minutes}분` : ""}`;
  const today = new Date();
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  if (when.toDateString() === today.toDateString()) return clock;
  if (when.toDateString() === tomorrow.toDateString()) return `내일 ${clock}`;
  return `${when.getMonth() + 1}월 ${when.getDate()}일 ${clock}`;
}

// 30 -> "30초", 60 -> "1분", 90 -> "1분 30초".
export function secondsLabel(seconds) {
  if (seconds < 60) return `${seconds}초`;
  const rest = seconds % 60;
  return `${Math.floor(seconds / 60)}분${rest ? ` ${rest}초` : ""}`;
}

// "30초로", "1분으로": 으로 after a final consonant other than ㄹ.
function withRo(word) {
  const code = word.charCodeAt(word.length - 1) - 0xac00;
  const final = code >= 0 && code < 11172 ? code % 28 : 0;
  return `${word}${final && final !== 8 ? "으로" : "로"}`;
}

const nameOf = (user) => String(user?.nickname || "알 수 없는 멤버");

// The system line for an action frame: {text, by} ("방장 홍길동").
export function actionLine(frame) {
  const who = nameOf(frame.user);
  let text;
  switch (frame.type) {
    case "room.member_muted":
      text = frame.until
        ? `${who}님이 ${momentLabel(frame.until)}까지 말할 수 없게 되었어요`
        : `${who}님이 다시 말할 수 있게 되었어요`;
      break;
    case "room.member_kicked":
      text = `${who}님이 강퇴되었어요`;
      break;
    case "room.member_banned":
      if (!frame.banned) text = `${who}님의 차단이 풀렸어요`;
      else text = `${who}님이 차단되었어요${frame.reason ? `: ${frame.reason}` : ""}`;
      break;
    case "room.slow_mode":
      text = frame.seconds
        ? `슬로 모드: ${secondsLabel(frame.seconds)}에 한 번`
        : "슬로 모드가 꺼졌어요";
      break;
    case "room.member_role":
      text =
        frame.role === "moderator"
          ? `${who}님이 매니저가 되었어요`
          : `${who}님이 더 이상 매니저가 아니에요`;
      break;
    default:
      text = "방 설정이 바뀌었어요";
  }
  const by = frame.by ? `${ROLE_NAMES[frame.by.role] || ""} ${nameOf(frame.by)}`.trim() : "";
  return { text, by };
}

const MODERATE_ERRORS = {
  forbidden: "그 멤버에게는 할 수 없는 일이에요.",
  not_found: "그 멤버를 찾을 수 없어요.",
  rate_limited: "너무 빨리 하고 있어요. 잠시 후 다시 해 주세요.",
  unavailable: "잠시 저장하지 못했어요. 다시 해 주세요.",
  timeout: "서버가 응답하지 않아요. 다시 해 주세요.",
  closed: "방과의 연결이 끊겼어요.",
  auth_required: "로그인이 필요해요. 새로고침 후 다시 로그인해 주세요.",
};

export function moderateError({ code, detail }) {
  if (MODERATE_ERRORS[code]) return MODERATE_ERRORS[code];
  if (code === "invalid_payload") return detail ? `할 수 없어요: ${detail}` : "할 수 없어요.";
  return "하지 못했어요. 다시 해 주세요.";
}

// --- the roster ----------------------------------------------------------------------------------

export class Roster {
  // initial: the roster as GET /api/rooms/<id>/moderation/ gives it; meId: the reader.
  constructor({ url, initial, meId }) {
    this.url = url;
    this.meId = meId;
    this.listeners = [];
    this.loading = null;
    this.again = false; // read again when the current read ends
    this.version = 0; // frames applied so far
    this.#take(initial || {});
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  // owner, moderator or null (staff are not marked: they are not the room's).
  roleOf(userId) {
    if (userId === null || userId === undefined) return null;
    if (userId === this.ownerId) return "owner";
    return this.moderators.has(userId) ? "moderator" : null;
  }

  // The reader may act in the room (owner, moderator, staff); they are exempt from slow mode.
  get moderating() {
    return this.myRole !== null;
  }

  get runsRoom() {
    return this.myRole === "owner" || this.myRole === "staff";
  }

  // What the server allows (chat/moderation.py): never on oneself or the owner (but staff),
  // a moderator never on another moderator. Staff are not known here: the server says no.
  canActOn(userId) {
    if (!this.moderating || userId === null || userId === this.meId) return false;
    if (userId === this.ownerId) return this.myRole === "staff";
    return !(this.myRole === "moderator" && this.moderators.has(userId));
  }

  isMuted(userId) {
    const muted = this.muted.get(userId);
    return Boolean(muted && new Date(muted.until) > new Date());
  }

  isBanned(userId) {
    return this.banned.has(userId);
  }

  // An action frame: what it changed.
  frame(frame) {
    const user = frame.user || {};
    const nickname = nameOf(user);
    this.version += 1;
    switch (frame.type) {
      case "room.member_muted":
        if (frame.until) this.muted.set(user.id, { nickname, until: frame.until });
        else this.muted.delete(user.id);
        break;
      case "room.member_banned":
        if (frame.banned) {
          this.banned.set(user.id, { nickname, reason: frame.reason || "" });
          this.moderators.delete(user.id); // a ban ends a moderator's role
        } else {
          this.banned.delete(user.id);
        }
        break;
      case "room.slow_mode":
        this.slowModeSeconds = Number(frame.seconds) || 0;
        break;
      case "room.member_role":
        if (frame.role === "moderator") this.moderators.set(user.id, nickname);
        else this.moderators.delete(user.id);
        if (user.id === this.meId && this.myRole !== "owner" && this.myRole !== "staff") {
          this.myRole = frame.role === "moderator" ? "moderator" : null;
        }
        this.load(); // the whole roster as the server has it (my role, the lists I may see)
        break;
      default:
        return;
    }
    this.#changed();
  }

  // Read the roster again: one request at a time, and a read that an action frame overtook is
  // not taken (it may be older than the frame) but read again.
  load() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const seen = this.version;
    this.loading = request(this.url)
      .then(({ ok, data }) => {
        if (!ok || !data) return;
        if (this.version !== seen) {
          this.again = true;
          return;
        }
        this.#take(data);
        this.#changed();
      })
      .catch(() => {}) // the frames keep it close enough until the next read
      .finally(() => {
        this.loading = null;
        if (this.again) {
          this.again = false;
          this.load();
        }
      });
    return this.loading;
  }

  #take(data) {
    this.ownerId = data.owner?.id ?? null;
    this.ownerNickname = data.owner?.nickname ?? "";
    this.moderators = new Map((data.moderators || []).map((m) => [m.id, nameOf(m)]));
    this.slowModeSeconds = Number(data.slow_mode_seconds) || 0;
    this.myRole = data.my_role ?? null;
    const muted = (data.muted || []).map((m) => [m.id, { nickname: nameOf(m), until: m.until }]);
    this.muted = new Map(muted);
    const banned = (data.banned || []).map((m) => [
      m.id,
      { nickname: nameOf(m), reason: m.reason || "" },
    ]);
    this.banned = new Map(banned);
  }

  #changed() {
    for (const listener of this.listeners) listener();
  }
}

// --- asking why ----------------------------------------------------------------------------------

export class ReasonDialog {
  // dialog: the [data-reason-dialog] element of the room page.
  constructor(dialog) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.input = dialog.querySelector("[data-reason-input]");
    this.error = dialog.querySelector("[data-reason-error]");
    this.required = false;
    dialog.querySelector("[data-reason-cancel]").addEventListener("click", () => {
      dialog.close("cancel");
    });
    this.form.addEventListener("submit", (event) => {
      if (this.required && !this.input.value.trim()) {
        event.preventDefault();
        this.error.textContent = "이유를 적어 주세요.";
        show(this.error, true);
        this.input.focus();
      }
    });
  }

  // Resolves to the reason given (maybe "" when not required), or null when cancelled.
  ask({ title, help, quote = "", label, ok, required, placeholder = "" }) {
    const dialog = this.dialog;
    dialog.querySelector("[data-reason-title]").textContent = title;
    dialog.querySelector("[data-reason-help]").textContent = help;
    const quoted = dialog.querySelector("[data-reason-quote]");
    quoted.textContent = quote;
    show(quoted, Boolean(quote));
    dialog.querySelector("[data-reason-label]").textContent = label;
    dialog.querySelector("[data-reason-ok]").textContent = ok;
    this.required = required;
    this.input.value = "";
    this.input.placeholder = placeholder;
    this.input.required = required;
    show(this.error, false);
    const returnFocus = document.activeElement;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener(
        "close",
        () => {
          if (returnFocus?.isConnected) returnFocus.focus();
          resolve(dialog.returnValue === "ok" ? this.input.value.trim() : null);
        },
        { once: true },
      );
      dialog.showModal();
      this.input.focus();
    });
  }
}

// --- a member's menu -----------------------------------------------------------------------------

export class MemberMenu {
  // roster: Roster; act(action, fields, target): sends room.moderate, resolves to its answer;
  // mention(target): puts @name in the send box (null for readers who cannot send);
  // reasons: ReasonDialog; onClose(): after the menu closed.
  constructor({ roster, act, mention, reasons, onClose = () => {} }) {
    this.roster = roster;
    this.act = act;
    this.mention = mention;
    this.reasons = reasons;
    this.onClose = onClose;
    this.node = null;
    this.anchor = null;
    this.target = null;

    document.addEventListener("pointerdown", (event) => {
      if (this.node && !this.node.contains(event.target) && event.target !== this.anchor) {
        this.close(false);
      }
    });
  }

  get isOpen() {
    return this.node !== null;
  }

  // target: {id, nickname, username?}; anchor: the name's button; the menu goes after `place`.
  toggle(target, anchor, place) {
    if (this.anchor === anchor) this.close();
    else this.open(target, anchor, place);
  }

  open(target, anchor, place) {
    this.close(false);
    this.target = target;
    this.anchor = anchor;
    const menu = el("div", "member-menu");
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", `${target.nickname}님 메뉴`);
    menu.id = "member-menu";
    for (const item of this.#items(target)) menu.append(item);
    menu.addEventListener("keydown", (event) => this.#keys(event));
    menu.addEventListener("click", (event) => this.#click(event));
    menu.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (to && !menu.contains(to) && to !== anchor) this.close(false);
    });
    place.append(menu);
    this.node = menu;
    anchor.setAttribute("aria-expanded", "true");
    anchor.setAttribute("aria-controls", menu.id);
    anchor.closest(".msg")?.classList.add("msg--menu");
    menu.scrollIntoView({ block: "nearest" });
    this.#menuItems().at(0)?.focus();
  }

  close(restoreFocus = true) {
    if (!this.node) return;
    const { node, anchor } = this;
    this.node = null;
    this.anchor = null;
    this.target = null;
    const hadFocus = node.contains(document.activeElement);
    node.remove();
    anchor.setAttribute("aria-expanded", "false");
    anchor.closest(".msg")?.classList.remove("msg--menu");
    if (restoreFocus && hadFocus && anchor.isConnected) anchor.focus();
    this.onClose();
  }

  #items(target) {
    const items = [];
    const item = (text, action, fields = {}) => {
      const b = el("button", "member-menu__item", text);
      b.type = "button";
      b.setAttribute("role", "menuitem");
      b.tabIndex = -1;
      b.dataset.menuAction = action;
      b.dataset.fields = JSON.stringify(fields);
      return b;
    };
    if (target.username) {
      const profile = el("a", "member-menu__item", "프로필 보기");
      profile.href = `/members/${encodeURIComponent(target.username)}/`;
      profile.setAttribute("role", "menuitem");
      profile.tabIndex = -1;
      items.push(profile);
    }
    if (this.mention) items.push(item(`@${target.nickname} 부르기`, "mention"));
    const roster = this.roster;
    if (!roster.canActOn(target.id)) return items;
    if (items.length) items.push(menuSeparator());
    if (roster.isMuted(target.id)) {
      items.push(item("조용히 해제", "unmute"));
    } else {
      for (const [seconds, label] of MUTES) {
        items.push(item(`${label} 동안 조용히`, "mute", { duration: seconds }));
      }
    }
    items.push(item("강퇴", "kick"));
    if (roster.isBanned(target.id)) items.push(item("차단 해제", "unban"));
    else items.push(item("차단…", "ban"));
    if (roster.runsRoom) {
      items.push(menuSeparator());
      if (roster.moderators.has(target.id)) items.push(item("매니저 해제", "dismiss"));
      else items.push(item("매니저로 지정", "appoint"));
    }
    for (const node of items) {
      if (["kick", "ban"].includes(node.dataset?.menuAction)) {
        node.classList.add("member-menu__item--danger");
      }
    }
    return items;
  }

  #menuItems() {
    return this.node ? [...this.node.querySelectorAll("[role=menuitem]")] : [];
  }

  #keys(event) {
    const items = this.#menuItems();
    const at = items.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      items[(moves[event.key] + items.length) % items.length]?.focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    } else if (event.key === "Tab") {
      this.close(false);
    }
  }

  async #click(event) {
    const control = event.target.closest("button[data-menu-action]");
    if (!control) return;
    const target = this.target;
    const action = control.dataset.menuAction;
    const fields = JSON.parse(control.dataset.fields || "{}");
    this.close();
    if (action === "mention") {
      this.mention(target);
      return;
    }
    if (action === "ban") {
      const reason = await this.reasons.ask({
        title: `${target.nickname}님을 이 방에서 차단할까요?`,
        help: "차단하면 바로 내보내지고, 차단을 풀 때까지 다시 들어올 수 없어요.",
        label: "차단 이유 (선택)",
        placeholder: "예: 도배, 욕설",
        ok: "차단",
        required: false,
      });
      if (reason === null) return;
      if (reason) fields.reason = reason;
    }
    this.act(action, { user_id: target.id, ...fields }, target);
  }
}

function menuSeparator() {
  const line = el("div", "member-menu__separator");
  line.setAttribute("role", "separator");
  return line;
}

// --- the owner's settings panel ------------------------------------------------------------------

export class ModerationPanel {
  // dialog: the [data-mod-panel] element; opener: the "방 관리" button; act(action, fields):
  // sends room.moderate and resolves to its answer.
  constructor({ dialog, opener, roster, act }) {
    this.dialog = dialog;
    this.opener = opener;
    this.roster = roster;
    this.act = act;
    this.status = dialog.querySelector("[data-mod-status]");
    this.slowForm = dialog.querySelector("[data-mod-slow]");
    this.slowChoice = this.slowForm.elements.choice;
    this.slowCustom = this.slowForm.elements.custom;

    opener.addEventListener("click", () => this.open());
    dialog.querySelector("[data-mod-close]").addEventListener("click", () => dialog.close());
    this.slowChoice.addEventListener("change", () => this.#customShown());
    this.slowForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#applySlowMode();
    });
    dialog.addEventListener("click", (event) => {
      const control = event.target.closest("button[data-panel-action]");
      if (control) this.#listAction(control);
    });
    dialog.addEventListener("close", () => {
      if (opener.isConnected && !opener.hidden) opener.focus();
    });
    roster.onChange(() => this.paint());
    this.paint();
  }

  open() {
    this.#say("");
    this.#showSlowMode(this.roster.slowModeSeconds);
    this.paint();
    this.dialog.showModal();
    this.roster.load();
  }

  paint() {
    const roster = this.roster;
    show(this.opener, roster.runsRoom);
    if (!roster.runsRoom && this.dialog.open) this.dialog.close();
    const slow = roster.slowModeSeconds;
    this.dialog.querySelector("[data-mod-slow-now]").textContent = slow
      ? `지금: 한 사람이 ${secondsLabel(slow)}에 한 번 보낼 수 있어요.`
      : "지금은 꺼져 있어요.";
    this.#list(
      "moderators",
      [...roster.moderators].map(([id, nickname]) => ({ id, nickname, note: "" })),
      { action: "dismiss", text: "해제", label: (m) => `${m.nickname}님 매니저 해제` },
    );
    this.#list(
      "muted",
      [...roster.muted]
        .filter(([id]) => roster.isMuted(id))
        .map(([id, m]) => ({ id, nickname: m.nickname, note: `${momentLabel(m.until)}까지` })),
      { action: "unmute", text: "해제", label: (m) => `${m.nickname}님 조용히 해제` },
    );
    this.#list(
      "banned",
      [...roster.banned].map(([id, m]) => ({
        id,
        nickname: m.nickname,
        note: m.reason ? `사유: ${m.reason}` : "",
      })),
      { action: "unban", text: "차단 해제", label: (m) => `${m.nickname}님 차단 해제` },
    );
  }

  #list(name, people, { action, text, label }) {
    const list = this.dialog.querySelector(`[data-mod-list="${name}"]`);
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(
      ...people.map((person) => {
        const item = el("li", "mod-panel__person");
        const who = el("span", "mod-panel__who");
        who.append(el("span", "mod-panel__name", person.nickname));
        if (person.note) who.append(el("span", "mod-panel__note", person.note));
        const b = el("button", "button button--small", text);
        b.type = "button";
        b.dataset.panelAction = action;
        b.dataset.userId = String(person.id);
        b.setAttribute("aria-label", label(person));
        item.append(who, b);
        return item;
      }),
    );
    show(this.dialog.querySelector(`[data-mod-empty="${name}"]`), people.length === 0);
    if (hadFocus) this.dialog.querySelector("[data-mod-close]").focus();
  }

  #showSlowMode(seconds) {
    const preset = SLOW_MODES.includes(seconds);
    this.slowChoice.value = preset ? String(seconds) : "custom";
    this.slowCustom.value = preset ? "" : String(seconds);
    this.#customShown();
  }

  #customShown() {
    const custom = this.slowChoice.value === "custom";
    show(this.slowForm.querySelector("[data-mod-custom]"), custom);
    this.slowCustom.required = custom;
    if (custom) this.slowCustom.focus();
  }

  async #applySlowMode() {
    let seconds = Number(this.slowChoice.value);
    if (this.slowChoice.value === "custom") {
      const typed = this.slowCustom.value.trim();
      seconds = typed === "" ? NaN : Number(typed);
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_SLOW_MODE) {
        this.#say(`0에서 ${MAX_SLOW_MODE} 사이의 초를 적어 주세요.`, true);
        this.slowCustom.focus();
        return;
      }
    }
    const apply = this.slowForm.querySelector("[type=submit]");
    apply.disabled = true;
    this.#say("바꾸는 중…");
    const answer = await this.act("slow_mode", { seconds });
    apply.disabled = false;
    if (answer.ok) {
      const label = secondsLabel(seconds);
      this.#say(seconds ? `슬로 모드를 ${withRo(label)} 정했어요.` : "슬로 모드를 껐어요.");
    } else {
      this.#say(moderateError(answer), true);
    }
  }

  async #listAction(control) {
    control.disabled = true;
    const action = control.dataset.panelAction;
    const answer = await this.act(action, { user_id: Number(control.dataset.userId) });
    if (control.isConnected) control.disabled = false;
    if (!answer.ok) this.#say(moderateError(answer), true);
    else this.#say(PANEL_DONE[action]);
  }

  #say(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle("mod-panel__status--error", isError);
    show(this.status, Boolean(text));
  }
}
