// Drawing the room: messages ordered by seq, their changes (edits, deletions, reactions),
// replies' quotes, @mentions, GIFs (uploaded ones in the space their size reserves), who runs
// the room (a crown, a moderator mark), presence notices, moderation's system lines, the "new
// messages" divider, and a day divider before the first message of each day ("오늘", "어제",
// "12월 1일"), whether the message came with the page, from the history API, a catch-up or
// live. Text goes in through textContent and
// text nodes only (dom.el), never as HTML. Each message's state is kept by event_id, so a
// change finds its message; a change for a message that is not on the page is ignored (the
// history API has it in its current state).
import { el, safeHttpUrl } from "../dom.js";
import { dayKey, dayLabel, fullTimeOf, timeOf } from "./dates.js";

export const DELETED_BY_AUTHOR = "삭제된 메시지예요.";
export const DELETED_BY_STAFF = "관리자가 삭제한 메시지예요.";
const DELETED_BY = {
  author: DELETED_BY_AUTHOR,
  owner: "방장이 삭제한 메시지예요.",
  moderator: "매니저가 삭제한 메시지예요.",
};
const EXCERPT_CHARS = 80;
// An uploaded GIF is drawn at most this wide and tall (its size known before it loads).
export const GIF_BOX_PX = 240;
const deletedText = (by) => DELETED_BY[by] || DELETED_BY_STAFF;

// @mentions as the server finds them (chat/mentions.py): "@" not after a word character or
// another "@", then everything up to the next space or "@"; trailing punctuation may follow.
const MENTION = /(?<![\p{L}\p{N}\p{M}_@])@([^\s@]{1,150})/gu;
const TRAILING = new Set(".,!?~:;)]}'\"…");

// The body as text nodes and, for each @token naming one of `mentions`, a link to that member's
// page (class mention--me when it names the reader).
export function bodyNodes(body, mentions, meId) {
  const byName = new Map();
  for (const m of Array.isArray(mentions) ? mentions : []) {
    if (!m || typeof m.username !== "string" || !m.username) continue;
    for (const name of [m.nickname, m.username]) {
      if (typeof name === "string" && name && !byName.has(name)) byName.set(name, m);
    }
  }
  if (!byName.size) return [document.createTextNode(body)];
  const nodes = [];
  let at = 0;
  for (const match of body.matchAll(MENTION)) {
    let token = match[1];
    let member = byName.get(token);
    if (!member) {
      const chars = [...token];
      while (chars.length && TRAILING.has(chars[chars.length - 1])) chars.pop();
      token = chars.join("");
      member = token ? byName.get(token) : undefined;
    }
    if (!member) continue;
    if (match.index > at) nodes.push(document.createTextNode(body.slice(at, match.index)));
    const link = el("a", "mention", `@${token}`);
    link.href = `/members/${encodeURIComponent(member.username)}/`;
    if (meId !== null && member.id === meId) {
      link.classList.add("mention--me");
      link.title = "나를 불렀어요";
    }
    nodes.push(link);
    at = match.index + 1 + token.length;
  }
  if (at < body.length) nodes.push(document.createTextNode(body.slice(at)));
  return nodes;
}

// An image address the page may show: a path on this site ("/media/…", not "//host/…") or an
// http(s) URL. Uploaded GIFs are served from this site (or the storage's https URL).
export function safeImageUrl(value) {
  if (typeof value === "string" && /^\/(?![/\\])/.test(value)) return value;
  return safeHttpUrl(value);
}

// The width and height to draw an image of `width` x `height` at, to fit `box` (never larger).
export function fitSize(width, height, box = GIF_BOX_PX) {
  const w = Number(width);
  const h = Number(height);
  if (!(w > 0 && h > 0)) return null;
  const scale = Math.min(1, box / w, box / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

// A message's image: an uploaded GIF (`gif`: its address and size) or another site's GIF
// (`gif_url`, an http(s) URL, size unknown). Null when there is none the page may show.
export function gifOf(frame) {
  const upload = frame.gif;
  const url = upload && typeof upload === "object" ? safeImageUrl(upload.url) : null;
  if (url) {
    return {
      url,
      size: fitSize(upload.width, upload.height),
      alt: upload.content_type === "image/gif" ? "GIF" : "이미지",
    };
  }
  const link = safeHttpUrl(frame.gif_url);
  return link ? { url: link, size: null, alt: "GIF" } : null;
}

// A member's role in the room, next to their name: a crown for the owner, a mark for moderators.
export function roleMark(role) {
  if (role === "owner") {
    const mark = el("span", "role role--owner", "👑");
    mark.setAttribute("role", "img");
    mark.setAttribute("aria-label", "방장");
    mark.title = "방장";
    return mark;
  }
  if (role === "moderator") {
    const mark = el("span", "role role--moderator", "매니저");
    mark.title = "이 방의 매니저";
    return mark;
  }
  return null;
}

function button(className, label, text, action) {
  const node = el("button", className, text);
  node.type = "button";
  node.dataset.action = action;
  if (label) {
    node.setAttribute("aria-label", label);
    node.title = label;
  }
  return node;
}

export class MessageList {
  // meId: the member reading (null for a guest); staff: may delete any message; roleOf(id):
  // "owner", "moderator" or null; moderating(): the reader may delete others' messages.
  constructor(list, { meId, staff = false, roleOf = () => null, moderating = () => false }) {
    this.list = list;
    this.meId = meId;
    this.staff = staff;
    this.roleOf = roleOf;
    this.moderating = moderating;
    this.items = new Map(); // seq -> <li>
    this.messages = new Map(); // event_id -> {eventId, seq, item, mine, sentAt, body, ...}
    this.maxSeq = 0;
    this.minSeq = Infinity;
  }

  get size() {
    return this.items.size;
  }

  get oldestSeq() {
    return this.items.size ? this.minSeq : null;
  }

  get(eventId) {
    return this.messages.get(eventId) || null;
  }

  of(item) {
    return this.get(item?.dataset.eventId);
  }

  // Put a message where its seq belongs; one that is already there is brought to this state.
  add(frame) {
    if (this.items.has(frame.seq)) {
      this.refresh(frame);
      return null;
    }
    const item = this.#item(frame);
    this.items.set(frame.seq, item);
    if (frame.seq > this.maxSeq) {
      this.list.append(item); // the usual case: newest at the bottom, after any notices
      this.#dayBefore(item);
    } else {
      const next = [...this.list.children].find((node) => Number(node.dataset.seq) > frame.seq);
      this.list.insertBefore(item, next || null);
      this.redoDays();
    }
    this.maxSeq = Math.max(this.maxSeq, frame.seq);
    this.minSeq = Math.min(this.minSeq, frame.seq);
    return item;
  }

  // A day divider before a message just put last, when the message before it is of another day.
  #dayBefore(item) {
    const day = item.dataset.day;
    if (!day) return;
    let before = item.previousElementSibling;
    while (before && !before.classList.contains("msg")) before = before.previousElementSibling;
    if (!before || before.dataset.day !== day) item.before(dayDivider(day));
  }

  // Every day divider again (a message went in among others: an older page, a gap filled).
  redoDays() {
    for (const divider of this.list.querySelectorAll(":scope > .day")) divider.remove();
    let last = "";
    for (const item of this.list.querySelectorAll(":scope > .msg")) {
      const day = item.dataset.day;
      if (day && day !== last) item.before(dayDivider(day));
      last = day || last;
    }
  }

  // A new day began while the page was open: "오늘" became "어제", and so on.
  relabelDays() {
    for (const divider of this.list.querySelectorAll(":scope > .day")) {
      divider.querySelector(".day__label").textContent = dayLabel(divider.dataset.day);
    }
  }

  // A message's current state (a history page) over what the page shows.
  refresh(frame) {
    const msg = this.get(frame.event_id);
    if (!msg) return;
    if (frame.deleted) {
      this.deleted({ event_id: frame.event_id, deleted_by: frame.deleted_by });
      return;
    }
    if (frame.reply_to) this.#paintQuote(msg, frame.reply_to);
    if (frame.edited_at) this.edited(frame);
    if (Array.isArray(frame.reactions)) {
      msg.reactions = reactionMap(frame.reactions);
      this.#paintReactions(msg);
    }
  }

  // Changes: chat.edited, chat.deleted, chat.reaction. Each carries absolute state.
  apply(frame) {
    if (frame.type === "chat.edited") this.edited(frame);
    else if (frame.type === "chat.deleted") this.deleted(frame);
    else if (frame.type === "chat.reaction") this.reaction(frame);
  }

  edited({ event_id: eventId, body, edited_at: editedAt }) {
    const msg = this.get(eventId);
    if (!msg || msg.deleted) return;
    msg.body = body ?? "";
    msg.editedAt = editedAt;
    this.#paintBody(msg);
    this.#paintEdited(msg);
    for (const quote of this.#quotesOf(eventId)) {
      quote.querySelector(".msg__quote-text").textContent = excerpt(msg.body) || "GIF";
      quote.setAttribute("aria-label", quoteLabel(quote));
    }
  }

  deleted({ event_id: eventId, deleted_by: deletedBy }) {
    const msg = this.get(eventId);
    if (!msg) return;
    for (const quote of this.#quotesOf(eventId)) {
      quote.classList.add("msg__quote--deleted");
      quote.querySelector(".msg__quote-text").textContent = DELETED_BY_AUTHOR;
      quote.setAttribute("aria-label", quoteLabel(quote));
    }
    if (msg.deleted) return;
    const hadFocus = msg.item.contains(document.activeElement);
    Object.assign(msg, { deleted: true, deletedBy, body: "", gif: null, gifUrl: null });
    msg.reactions.clear();
    msg.item.classList.add("msg--deleted");
    msg.item.classList.remove("msg--mentions-me");
    msg.item.querySelector(".msg__actions")?.remove();
    msg.item.querySelector(".reactions")?.remove();
    msg.item.querySelector(".msg__edited").hidden = true;
    msg.item
      .querySelector(".msg__bubble")
      .replaceChildren(el("p", "msg__body", deletedText(deletedBy)));
    if (hadFocus) msg.item.focus({ preventScroll: true });
  }

  reaction({ event_id: eventId, emoji, count, added, user }) {
    const msg = this.get(eventId);
    if (!msg || msg.deleted) return;
    const now = msg.reactions.get(emoji) || { count: 0, me: false };
    now.count = count;
    if (user && this.meId !== null && user.id === this.meId) now.me = Boolean(added);
    if (count > 0) msg.reactions.set(emoji, now);
    else msg.reactions.delete(emoji);
    this.#paintReactions(msg);
  }

  // The newest message of mine that may still be edited.
  lastEditable(windowSeconds) {
    const newestFirst = [...this.items.keys()].sort((x, y) => y - x);
    for (const seq of newestFirst) {
      const msg = this.of(this.items.get(seq));
      if (msg && msg.mine && !msg.deleted && editable(msg, windowSeconds)) return msg;
    }
    return null;
  }

  notice(text) {
    this.list.append(el("li", "notice", text));
  }

  // A moderation action's line, where its seq belongs among the messages. `by` is who did it.
  action(seq, text, by = "") {
    if (this.list.querySelector(`.notice--action[data-seq="${seq}"]`)) return null;
    const item = el("li", "notice notice--action");
    item.dataset.seq = String(seq);
    item.append(el("span", "notice__text", text));
    if (by) item.append(el("span", "notice__by", by));
    const next = [...this.list.children].find((node) => Number(node.dataset.seq) > seq);
    this.list.insertBefore(item, next || null);
    return item;
  }

  // Roles changed (or the reader's own role): marks next to names, delete buttons.
  repaintRoles() {
    for (const msg of this.messages.values()) {
      this.#paintRole(msg);
      const remove = msg.item.querySelector('.msg__actions [data-action="delete"]');
      if (remove && !msg.mine) remove.hidden = !(this.staff || this.moderating());
    }
  }

  // A marker where messages after `afterSeq` were not replayed (they are filled in before it
  // by add(), which places each message by its seq).
  gap(afterSeq) {
    const item = el("li", "gap");
    item.dataset.seq = String(afterSeq + 0.5);
    const next = [...this.list.children].find((node) => Number(node.dataset.seq) > afterSeq);
    this.list.insertBefore(item, next || null);
    return item;
  }

  // "새 메시지": where the member stopped reading, after `afterSeq` (messages are placed around
  // it by their seq, like the gap marker).
  divider(afterSeq) {
    this.list.querySelector(".divider")?.remove();
    const item = el("li", "divider");
    item.append(el("span", "divider__label", "새 메시지"));
    item.dataset.seq = String(afterSeq + 0.5);
    const next = [...this.list.children].find((node) => Number(node.dataset.seq) > afterSeq);
    this.list.insertBefore(item, next || null);
    return item;
  }

  #quotesOf(eventId) {
    return [...this.list.querySelectorAll(".msg__quote")].filter(
      (quote) => quote.dataset.target === eventId,
    );
  }

  #item(frame) {
    const sender = frame.sender || {};
    const mine = this.meId !== null && sender.id === this.meId;
    const author = sender.nickname || sender.username || "알 수 없음";
    const item = el("li", mine ? "msg msg--mine" : "msg");
    item.id = `msg-${frame.seq}`; // notifications link here (/rooms/<id>/#msg-<seq>)
    item.dataset.seq = String(frame.seq);
    item.dataset.eventId = frame.event_id;
    item.dataset.senderId = String(sender.id ?? "");
    item.tabIndex = -1; // a quote's "go to the original" moves focus here
    const msg = {
      eventId: frame.event_id,
      seq: frame.seq,
      item,
      mine,
      author,
      sender: { id: sender.id ?? null, username: sender.username || "", nickname: author },
      mentions: Array.isArray(frame.mentions) ? frame.mentions : [],
      sentAt: frame.sent_at,
      body: frame.body || "",
      gif: gifOf(frame),
      gifUrl: null,
      editedAt: frame.edited_at || null,
      deleted: false,
      deletedBy: null,
      reactions: reactionMap(frame.reactions || []),
    };
    msg.gifUrl = msg.gif?.url ?? null;
    this.messages.set(msg.eventId, msg);

    const meta = el("div", "msg__meta");
    if (this.meId !== null && !mine && typeof sender.id === "number") {
      // The member's menu (profile, mention, and what the room's moderators may do).
      const name = button("msg__author msg__author--menu", null, author, "member");
      name.setAttribute("aria-haspopup", "menu");
      name.setAttribute("aria-expanded", "false");
      name.title = `${author}님 메뉴`;
      meta.append(name);
    } else {
      meta.append(el("span", "msg__author", author));
    }
    if (mine) meta.append(el("span", "msg__you", "나"));
    const time = el("time", "msg__time", timeOf(frame.sent_at));
    time.dateTime = frame.sent_at;
    time.title = fullTimeOf(frame.sent_at);
    item.dataset.day = dayKey(frame.sent_at);
    meta.append(time, el("span", "msg__edited", "(수정됨)"));
    if (this.meId !== null) meta.append(this.#toolbar(msg));
    item.append(meta, el("div", "msg__bubble"));
    this.#paintRole(msg);
    if (frame.reply_to) this.#paintQuote(msg, frame.reply_to);
    this.#paintBody(msg);
    this.#paintEdited(msg);
    this.#paintReactions(msg);
    if (frame.deleted || frame.removed) {
      this.deleted({ event_id: msg.eventId, deleted_by: frame.deleted_by });
    }
    return item;
  }

  // Reply, react, and on one's own message edit and delete (staff delete any). A toolbar with
  // one tab stop; the arrow keys move inside it (actions.js).
  #toolbar(msg) {
    const bar = el("div", "msg__actions");
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", `${msg.author}의 메시지`);
    bar.append(
      button("msg__action", null, "답장", "reply"),
      button("msg__action", "반응 달기", "반응", "react"),
    );
    if (msg.mine) bar.append(button("msg__action", null, "수정", "edit"));
    const remove = button("msg__action", null, "삭제", "delete");
    remove.hidden = !(msg.mine || this.staff || this.moderating());
    bar.append(remove);
    if (!msg.mine) bar.append(button("msg__action", "이 메시지 신고", "신고", "report"));
    [...bar.children].forEach((b, i) => (b.tabIndex = i === 0 ? 0 : -1));
    return bar;
  }

  #paintRole(msg) {
    const meta = msg.item.querySelector(".msg__meta");
    meta.querySelector(".role")?.remove();
    const mark = roleMark(msg.sender.id === null ? null : this.roleOf(msg.sender.id));
    if (mark) meta.querySelector(".msg__author").after(mark);
  }

  #paintQuote(msg, replyTo) {
    const bubble = msg.item.querySelector(".msg__bubble");
    let quote = bubble.querySelector(".msg__quote");
    if (!quote) {
      quote = button("msg__quote", null, null, "quote");
      quote.dataset.target = replyTo.event_id;
      quote.append(el("span", "msg__quote-author"), el("span", "msg__quote-text"));
      bubble.prepend(quote);
    }
    const target = this.get(replyTo.event_id);
    const deleted = replyTo.deleted || Boolean(target?.deleted);
    const who = replyTo.sender?.nickname || "알 수 없음";
    quote.querySelector(".msg__quote-author").textContent = who;
    quote.querySelector(".msg__quote-text").textContent = deleted
      ? DELETED_BY_AUTHOR
      : replyTo.excerpt || "GIF";
    quote.classList.toggle("msg__quote--deleted", deleted);
    quote.title = "원래 메시지로 이동";
    quote.setAttribute("aria-label", quoteLabel(quote));
  }

  #paintBody(msg) {
    if (msg.deleted) return;
    const bubble = msg.item.querySelector(".msg__bubble");
    let body = bubble.querySelector(".msg__body");
    if (msg.body) {
      if (!body) {
        body = el("p", "msg__body");
        const quote = bubble.querySelector(".msg__quote");
        if (quote) quote.after(body);
        else bubble.prepend(body);
      }
      body.replaceChildren(...bodyNodes(msg.body, msg.mentions, this.meId));
      const callsMe = !msg.mine && body.querySelector(".mention--me") !== null;
      msg.item.classList.toggle("msg--mentions-me", callsMe);
    } else {
      body?.remove();
    }
    if (msg.gif && !bubble.querySelector(".msg__gif")) {
      const img = el("img", "msg__gif");
      if (msg.gif.size) {
        // The space is reserved before the image arrives (CSS keeps the ratio when narrower).
        img.classList.add("msg__gif--sized");
        img.width = msg.gif.size.width;
        img.height = msg.gif.size.height;
      }
      img.src = msg.gif.url;
      img.alt = msg.gif.alt;
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      bubble.append(img);
    }
  }

  #paintEdited(msg) {
    const mark = msg.item.querySelector(".msg__edited");
    mark.hidden = !msg.editedAt || msg.deleted;
    mark.title = msg.editedAt ? `${fullTimeOf(msg.editedAt)}에 수정됨` : "";
  }

  // Chips under the bubble, updated in place (a chip keeps the keyboard focus while its count
  // changes).
  #paintReactions(msg) {
    let box = msg.item.querySelector(".reactions");
    if (!msg.reactions.size || msg.deleted) {
      box?.remove();
      return;
    }
    if (!box) {
      box = el("div", "reactions");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "반응");
      msg.item.append(box);
    }
    const chips = new Map([...box.children].map((chip) => [chip.dataset.emoji, chip]));
    for (const [emoji, chip] of chips) {
      if (!msg.reactions.has(emoji)) chip.remove();
    }
    for (const [emoji, { count, me }] of msg.reactions) {
      let chip = chips.get(emoji);
      if (!chip) {
        chip = button("reaction", null, null, "toggle-reaction");
        chip.dataset.emoji = emoji;
        chip.append(el("span", "reaction__emoji", emoji), el("span", "reaction__count"));
        chip.disabled = this.meId === null;
        box.append(chip);
      }
      chip.querySelector(".reaction__count").textContent = String(count);
      chip.setAttribute("aria-pressed", me ? "true" : "false");
      chip.setAttribute("aria-label", `${emoji} 반응 ${count}개`);
      chip.title = me ? "내 반응 취소" : "나도 반응하기";
    }
  }
}

function dayDivider(day) {
  const item = el("li", "day");
  item.dataset.day = day;
  item.append(el("span", "day__label", dayLabel(day)));
  return item;
}

const reactionMap = (list) => new Map(list.map((r) => [r.emoji, { count: r.count, me: r.me }]));

function quoteLabel(quote) {
  const who = quote.querySelector(".msg__quote-author").textContent;
  const what = quote.querySelector(".msg__quote-text").textContent;
  return `원래 메시지 보기: ${who}, ${what}`;
}

// What a reply quotes of its original: the start of its body now, as the server cuts it
// (chat/events.py: the first 80 code points). Empty for a GIF alone: shown as "GIF".
export function excerpt(body) {
  return [...(body || "")].slice(0, EXCERPT_CHARS).join("");
}

export function editable(msg, windowSeconds) {
  const age = (Date.now() - new Date(msg.sentAt).getTime()) / 1000;
  return age < windowSeconds;
}
