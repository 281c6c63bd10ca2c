// The room page: wires the socket client (socket.js) to the drawing (render.js) and to what a
// member does to messages (actions.js), the send box (with its reply and its GIF picker,
// gifs.js), "load older", the scroll position, who is here (presence.js), who is typing
// (typing.js), read state (read.js), and room moderation: roles, member menus, the settings
// panel, reports (moderation.js) and what the member may send now (standing.js). The header's
// like and online counts follow the room live (room.likes, room.presence; read again after a
// reconnect), the room's details open from the ⓘ button on phones, the connection's state and
// a send's ("보내는 중", "다시 보내기") are said in words, and day dividers follow midnight.
import { el, show, showOnline } from "../dom.js";
import { request } from "../http.js";
import { enterSubmits } from "../keys.js";
import { enhanceLikeForms, setRoomLikes } from "../like.js";
import { MessageActions } from "./actions.js";
import { dayKey } from "./dates.js";
import { GifPicker } from "./gifs.js";
import {
  MemberMenu,
  ModerationPanel,
  ReasonDialog,
  Roster,
  actionLine,
  moderateError,
  momentLabel,
} from "./moderation.js";
import { WhoIsHere } from "./presence.js";
import { ReadTracker, placeDivider } from "./read.js";
import { ChatClient } from "./socket.js";
import { DELETED_BY_AUTHOR, MessageList, excerpt } from "./render.js";
import { SendGate } from "./standing.js";
import { TypingLine, TypingSignal } from "./typing.js";

const PAGE = 50;
const NEAR_BOTTOM_PX = 80;

const SEND_ERRORS = {
  rate_limited: "너무 빨리 보내고 있어요. 잠시 후 다시 보내 주세요.",
  unavailable: "메시지를 저장하지 못했어요. 다시 보내 주세요.",
  timeout: "서버가 응답하지 않아요. 다시 보내 주세요.",
  too_large: "메시지가 너무 길어요.",
  auth_required: "로그인이 필요해요. 새로고침 후 다시 로그인해 주세요.",
  not_found: "답장할 메시지를 찾을 수 없어요. 답장을 취소하고 다시 보내 주세요.",
  deleted: "삭제된 메시지에는 답장할 수 없어요. 답장을 취소하고 다시 보내 주세요.",
  forbidden: "보낼 수 없는 메시지예요.",
  banned: "이 방에서 차단되어 보낼 수 없어요.",
  closed: "연결이 끊겨 보내지 못했어요. 새로고침해 주세요.",
};
// Failures that the same message may get past by being sent again: "다시 보내기".
const RETRYABLE = new Set(["unavailable", "timeout", "rate_limited"]);
// A send that is not answered this soon says "보내는 중…" (most are answered well before).
const PENDING_MS = 600;
let pendingTimer = null;
let failedSend = null; // the send "다시 보내기" sends again
let invalidInBox = false; // the line says what is wrong in the box
function sendError(code, detail, error = {}, out = null) {
  // An uploaded GIF that is gone (the error names its field; or it is the only thing that could
  // be missing).
  if (code === "not_found" && out?.gifId && (error.field === "gif_id" || !out.replyTo)) {
    return "이 GIF를 찾을 수 없어요. 다시 올려 주세요.";
  }
  if (code === "muted") {
    return error.until
      ? `${momentLabel(error.until)}까지 말할 수 없어요.`
      : "지금은 말할 수 없어요.";
  }
  if (code === "slow_mode") {
    const wait = Number(error.retry_after) > 0 ? `${error.retry_after}초 후에` : "잠시 후에";
    return `슬로 모드예요. ${wait} 다시 보내 주세요.`;
  }
  return (
    SEND_ERRORS[code] ||
    (code === "invalid_payload" ? `보낼 수 없는 메시지예요: ${detail}` : null) ||
    detail ||
    "보내지 못했어요. 다시 시도해 주세요."
  );
}
const REPORT_ERRORS = {
  already_reported: "이미 신고한 메시지예요.",
  not_found: "메시지를 찾을 수 없어요. 새로고침해 주세요.",
};
const STATES = {
  connecting: "연결하는 중…",
  open: "",
  reconnecting: "연결 끊김 · 다시 연결하는 중…",
  closed: "이 방에 연결할 수 없어요. 새로고침해 주세요.",
};

const TOAST_MS = 6000;
const FLASH_MS = 1600;
const FORBIDDEN = 4403; // kicked or banned (the closing frame says which)

const root = document.getElementById("room");
const log = root.querySelector("[data-log]");
const meId = root.dataset.meId ? Number(root.dataset.meId) : null;
const lastReadSeq = root.dataset.lastReadSeq ? Number(root.dataset.lastReadSeq) : null;
const moderation = JSON.parse(document.getElementById("room-moderation").textContent);
const roster = new Roster({
  url: root.dataset.moderationUrl,
  initial: moderation.roster,
  meId,
});
const list = new MessageList(root.querySelector("[data-messages]"), {
  meId,
  staff: root.dataset.meStaff === "1",
  roleOf: (userId) => roster.roleOf(userId),
  moderating: () => roster.moderating,
});
const roomId = Number(root.dataset.roomId);
const head = root.querySelector(".room__head");
const status = root.querySelector("[data-conn-status]");
const olderButton = root.querySelector("[data-load-older]");
const jump = root.querySelector("[data-jump]");
const empty = root.querySelector("[data-empty]");
const composer = root.querySelector("[data-composer]");
const toastLine = root.querySelector("[data-toast]");
const typists = new TypingLine(root.querySelector("[data-typing]"), { meId });
const here = new WhoIsHere(root.querySelector("[data-who]"), {
  url: root.dataset.presenceUrl,
  meId,
  roleOf: (userId) => roster.roleOf(userId),
  menu: (member, name) =>
    memberMenu.toggle(
      { id: member.id, nickname: String(member.nickname || "") },
      name,
      name.closest(".who__member"),
    ),
});
const removedBox = root.querySelector("[data-removed]");
const rejoin = root.querySelector("[data-rejoin]");
rejoin.addEventListener("click", () => location.reload());

// --- scrolling: stay at the bottom while the reader is there --------------------------------

let pinned = true;
const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
const toBottom = () => {
  log.scrollTop = log.scrollHeight;
  show(jump, false);
};
log.addEventListener("scroll", () => {
  pinned = atBottom();
  if (pinned) show(jump, false);
});
// A GIF that finishes loading grows the log; keep the newest message in view.
log.addEventListener("load", () => pinned && toBottom(), true);
jump.addEventListener("click", toBottom);
// So does a smaller window (a phone's keyboard opening, a rotated screen).
new ResizeObserver(() => pinned && toBottom()).observe(log);

// --- the socket client's view ------------------------------------------------------------------

let toastTimer = null;
function toast(text) {
  toastLine.textContent = text;
  show(toastLine, true);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => show(toastLine, false), TOAST_MS);
}

const client = new ChatClient({
  wsPath: root.dataset.wsPath,
  view: {
    message(frame) {
      const wasPinned = pinned;
      list.add(frame);
      show(empty, false);
      if (frame.seq < list.maxSeq) return; // an older page ("load older" keeps the place)
      typists.stopped(frame.sender?.id);
      if (wasPinned || frame.sender?.id === meId) toBottom();
      else show(jump, true);
      reads.check();
    },
    refresh: (frame) => list.refresh(frame),
    action(frame) {
      const wasPinned = pinned;
      roster.frame(frame);
      const { text, by } = actionLine(frame);
      list.action(frame.seq, text, by);
      if (frame.type === "room.member_muted" && frame.user?.id === meId) gate.muted(frame.until);
      if (frame.type === "room.slow_mode") gate.slowMode(frame.seconds);
      if (wasPinned) toBottom();
      reads.check();
    },
    change(frame) {
      const wasPinned = pinned; // a new chip or a longer body may grow the log
      list.apply(frame);
      actions.changed(frame);
      if (frame.type === "chat.deleted" && reply.target?.eventId === frame.event_id) {
        reply.cancel();
        composerStatus("답장하려던 메시지가 삭제됐어요.", false);
      }
      if (wasPinned) toBottom();
      reads.check();
    },
    presence(frame) {
      here.changed();
      showOnline(root.querySelector(".room__meta"), frame.online);
      const who = frame.joined || frame.left;
      if (who && who.nickname !== root.dataset.meNickname) {
        list.notice(`${who.nickname} 님이 ${frame.joined ? "들어왔어요" : "나갔어요"}`);
        if (pinned) toBottom();
      }
    },
    typing: (frame) => typists.seen(frame.user),
    likes(frame) {
      if (frame.room_id === roomId) setRoomLikes(head, { count: frame.like_count });
    },
    reopened: () => recount(),
    gap: ({ after_seq: after, before_seq: before }) => {
      offerMissed(after, before);
      refreshShown(after);
    },
    state(name, closing) {
      root.dataset.state = name;
      if (name === "closed" && client.socket.closeCode === FORBIDDEN) {
        removedFromRoom(closing?.reason || "");
        return;
      }
      status.textContent = STATES[name] ?? "";
      show(status, name !== "open");
    },
    waiting: () => composerStatus("보내는 중… 연결되면 바로 보낼게요.", false),
    sent(out) {
      if (out.replyTo && reply.target?.eventId === out.replyTo) reply.cancel();
      composerDone(out);
      gifs?.sent(out);
      gate.sent();
    },
    failed(out, code, detail, error) {
      composerDone(null);
      if (code === "muted") gate.muted(error?.until || null);
      if (code === "slow_mode") gate.wait(Number(error?.retry_after) || 1);
      composerStatus(sendError(code, detail, error, out), true, {
        retry: out && RETRYABLE.has(code) ? out : null,
      });
    },
    changeAcked: (frame) => actions.acked(frame),
    changeFailed: (frame, code, detail) => actions.failed(frame, code, detail),
  },
});

// Members tell the server how far they have read; guests have no marker.
const reads = new ReadTracker({
  client,
  log,
  newest: () => list.items.get(list.maxSeq),
  atBottom,
  lastReadSeq,
});

const actions = new MessageActions({
  list,
  client,
  dialog: root.querySelector("[data-confirm-delete]"),
  windowSeconds: Number(root.dataset.editWindow) || 600,
  toast,
  reply: (msg) => reply.start(msg),
  done: () => composer?.elements.body.focus(),
  memberMenu: (msg, name) =>
    memberMenu.toggle(
      { id: msg.sender.id, nickname: msg.author, username: msg.sender.username },
      name,
      name.closest(".msg__meta"),
    ),
  report: (msg) => reportMessage(msg),
});

// --- moderation: roles, a member's menu, the owner's panel, reports, removal ---------------------

const moderate = (action, fields) => client.request({ type: "room.moderate", action, ...fields });
const reasons = composer ? new ReasonDialog(root.querySelector("[data-reason-dialog]")) : null;
const memberMenu = new MemberMenu({
  roster,
  reasons,
  act: async (action, fields) => {
    const answer = await moderate(action, fields);
    if (!answer.ok) toast(moderateError(answer));
  },
  mention: composer ? mention : null,
  onClose: () => here.repaint(),
});
if (composer) {
  new ModerationPanel({
    dialog: root.querySelector("[data-mod-panel]"),
    opener: root.querySelector("[data-mod-open]"),
    roster,
    act: moderate,
  });
}
// The room's reports page, for those who may act on them.
const reportsLink = root.querySelector("[data-reports-link]");
show(reportsLink, roster.moderating);
roster.onChange(() => {
  list.repaintRoles();
  here.repaint();
  gate.exempt(roster.moderating);
  show(reportsLink, roster.moderating);
});

// "@name " into the send box: the nickname, or the username when the nickname has a space (a
// mention runs up to the next space).
function mention(target) {
  const body = composer.elements.body;
  if (body.disabled) return;
  const name = /\s/.test(target.nickname) && target.username ? target.username : target.nickname;
  const before = body.value.slice(0, body.selectionStart);
  const after = body.value.slice(body.selectionEnd);
  const gap = before && !/\s$/.test(before) ? " " : "";
  body.value = `${before}${gap}@${name} ${after}`;
  const caret = before.length + gap.length + name.length + 2;
  body.focus();
  body.setSelectionRange(caret, caret);
}

async function reportMessage(msg) {
  if (!reasons) return;
  const reason = await reasons.ask({
    title: "이 메시지를 신고할까요?",
    help: "방장과 매니저, 운영자가 확인해요.",
    quote: `${msg.author}: ${msg.deleted ? DELETED_BY_AUTHOR : excerpt(msg.body) || "GIF"}`,
    label: "신고 이유",
    placeholder: "예: 욕설, 도배, 광고",
    ok: "신고",
    required: true,
  });
  if (reason === null) return;
  const answer = await client.request({ type: "chat.report", event_id: msg.eventId, reason });
  if (answer.ok) toast("신고했어요. 알려 줘서 고마워요.");
  else toast(REPORT_ERRORS[answer.code] || moderateError(answer));
}

// Kicked or banned (close code 4403): say so, stop, and (kicked) offer to come back.
function removedFromRoom(reason) {
  show(status, false);
  const kicked = reason === "kicked";
  let text = "이 방에 들어갈 수 없어요.";
  if (kicked) {
    text = "이 방에서 강퇴되었어요";
  } else if (reason.startsWith("banned")) {
    const why = reason.replace(/^banned:?\s*/, "");
    text = why ? `이 방에서 차단되었어요: ${why}` : "이 방에서 차단되었어요";
  }
  root.querySelector("[data-removed-text]").textContent = text;
  show(rejoin, kicked);
  show(removedBox, true);
  memberMenu.close(false);
  composerStatus("", false);
  gate.close(kicked ? "강퇴되어 보낼 수 없어요. 다시 들어가면 보낼 수 있어요." : "이 방에서 차단되어 보낼 수 없어요.");
  root.querySelector("[data-mod-panel]")?.close();
}

// --- history: what the page came with, then "load older" ----------------------------------------

const initial = JSON.parse(document.getElementById("room-history").textContent);
const noOlder = (frames) => frames.length < PAGE || frames[0].seq <= 1;
show(olderButton, !noOlder(initial));
show(root.querySelector("[data-log-start]"), initial.length > 0 && noOlder(initial));
show(empty, initial.length === 0);

olderButton.addEventListener("click", async () => {
  olderButton.disabled = true;
  olderButton.textContent = "이전 메시지 더 보기";
  try {
    const url = `${root.dataset.messagesUrl}?before_seq=${list.oldestSeq}&limit=${PAGE}`;
    const { ok, data } = await request(url);
    if (!ok) throw new Error("history");
    const keep = log.scrollHeight - log.scrollTop; // hold the reader's place
    client.add(data.results, { pageSeq: data.last_seq });
    log.scrollTop = log.scrollHeight - keep;
    if (noOlder(data.results)) {
      show(olderButton, false);
      show(root.querySelector("[data-log-start]"), true);
    }
  } catch {
    olderButton.textContent = "불러오지 못했어요. 다시 시도";
  } finally {
    olderButton.disabled = false;
  }
});

// Too much was missed for the socket to replay (chat.gap): a button where the missing messages
// belong loads them from the history API, newest first, one page per click. (Messages and
// changes share the seq, so how many of the missing seqs are messages is not known.)
function offerMissed(after, before) {
  let upto = before; // the oldest seq shown after the gap
  const marker = list.gap(after);
  const button = el("button", "button button--quiet load-older", "놓친 메시지 보기");
  button.type = "button";
  button.dataset.loadMissed = "";
  marker.append(button);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const url = `${root.dataset.messagesUrl}?before_seq=${upto}&limit=${PAGE}`;
      const { ok, data } = await request(url);
      if (!ok) throw new Error("history");
      const missed = data.results.filter((frame) => frame.seq > after);
      const keep = log.scrollHeight - log.scrollTop; // hold the reader's place
      client.add(missed, { pageSeq: data.last_seq });
      log.scrollTop = log.scrollHeight - keep;
      if (missed.length < data.results.length || data.results.length < PAGE) marker.remove();
      else upto = missed[0].seq;
    } catch {
      button.textContent = "불러오지 못했어요. 다시 시도";
    } finally {
      button.disabled = false;
    }
  });
}

// The changes that a chat.gap skipped may be to messages already on the page (an edit, a
// deletion, a reaction): read those messages again in their current state.
async function refreshShown(after) {
  let upto = after + 1;
  for (let pages = 0; pages < 10 && list.oldestSeq !== null && upto > list.oldestSeq; pages++) {
    try {
      const url = `${root.dataset.messagesUrl}?before_seq=${upto}&limit=${PAGE}`;
      const { ok, data } = await request(url);
      if (!ok || !data.results.length) return;
      const shown = data.results.filter((frame) => frame.seq >= list.oldestSeq);
      client.add(shown, { pageSeq: data.last_seq }); // older ones stay for "load older"
      upto = data.results[0].seq;
    } catch {
      return; // the page shows what it had; a reload shows the rest
    }
  }
}

// --- the send box ------------------------------------------------------------------------------------

// The line under the box: what happens to the send, or why it cannot go. `retry`: the failed
// send that "다시 보내기" sends again; `invalid`: a mistake in the box, cleared once it is fixed.
function composerStatus(text, isError, { retry = null, invalid = false } = {}) {
  if (!composer) return; // readers who are not logged in never send
  clearTimeout(pendingTimer);
  const line = composer.querySelector("[data-send-status]");
  line.textContent = text;
  line.classList.toggle("composer__status--error", isError);
  show(line, Boolean(text));
  failedSend = retry;
  show(composer.querySelector("[data-retry]"), Boolean(retry));
  invalidInBox = invalid;
}

// The box waits, read-only, for the server to say the send is stored; a send not answered at
// once says so.
function composerBusy() {
  const { body, gif_url: gif } = composer.elements;
  composer.classList.add("composer--busy");
  body.readOnly = true;
  gif.readOnly = true;
  composer.querySelector("[data-send]").disabled = true;
  composerStatus("", false);
  pendingTimer = setTimeout(() => {
    if (client.busy && composer.querySelector("[data-send-status]").hidden) {
      composerStatus(client.socket.isOpen ? "보내는 중…" : "보내는 중… 연결되면 바로 보낼게요.", false);
    }
  }, PENDING_MS);
}

// The send ended: `sent` is what was stored (its text and address leave the box; a GIF picked
// from the panel leaves any text typed meanwhile), null when it failed (all stays for a retry).
function composerDone(sent) {
  if (!composer) return;
  const { body, gif_url: gif } = composer.elements;
  clearTimeout(pendingTimer);
  composer.classList.remove("composer--busy");
  body.readOnly = false;
  gif.readOnly = false;
  composer.querySelector("[data-send]").disabled = false;
  if (sent) {
    if (sent.body) body.value = "";
    if (sent.gifUrl) gif.value = "";
    composerStatus("", false);
  }
  gate.paint();
  body.focus();
}

// Why nothing can be sent now, or "" (busyOk: another send under way does not count).
function sendRefusal({ busyOk = false } = {}) {
  if (!busyOk && client.busy) return "보내는 중이에요. 잠시 후 다시 보내 주세요.";
  return gate.refusal();
}

// An uploaded GIF chosen in the picker goes out alone (as a reply when replying), through the
// same one-at-a-time send as the box's text: false when it could not go out now.
function sendGif(upload) {
  const refusal = sendRefusal();
  if (refusal) {
    composerStatus(refusal, true);
    return false;
  }
  composerBusy();
  client.send({ gifId: upload.id, replyTo: reply.target?.eventId ?? null });
  return true;
}

// Replying: a bar above the box names whom, with a × to stop; the send carries reply_to.
const reply = {
  target: null,
  bar: composer?.querySelector("[data-reply]"),
  start(msg) {
    if (!composer) return;
    this.target = msg;
    this.bar.querySelector("[data-reply-to]").textContent = `${msg.author}님에게 답장`;
    this.bar.querySelector("[data-reply-excerpt]").textContent = msg.deleted
      ? DELETED_BY_AUTHOR
      : excerpt(msg.body) || "GIF";
    show(this.bar, true);
    composer.elements.body.focus();
  },
  cancel() {
    if (!this.target) return;
    this.target = null;
    show(this.bar, false);
  },
};

const gifs = composer
  ? new GifPicker(composer, {
      mediaUrl: root.dataset.mediaUrl,
      roomGifsUrl: root.dataset.gifsUrl,
      refusal: sendRefusal,
      send: sendGif,
      status: composerStatus,
    })
  : null;

// What the member may send now: muted until, slow mode's countdown, removed from the room.
const gate = new SendGate(composer, {
  slowModeSeconds: moderation.standing.slow_mode_seconds,
  exempt: roster.moderating,
  mutedUntil: moderation.standing.muted_until,
  ready: () => {
    const line = composer?.querySelector("[data-send-status]");
    if (line?.textContent.startsWith("슬로 모드")) composerStatus("", false);
  },
});

if (composer) {
  const { body, gif_url: gif } = composer.elements;
  const typing = new TypingSignal(() => client.typing());
  for (const field of [body, gif]) {
    field.addEventListener("input", () => {
      if (field.value.trim() && !client.busy) typing.typed();
      if (invalidInBox) composerStatus("", false); // fixed, or being fixed: the error goes
    });
  }
  // "다시 보내기": the same send again (the same client_msg_id while it is unchanged).
  composer.querySelector("[data-retry]").addEventListener("click", () => {
    const out = failedSend;
    if (!out || client.busy || gate.blocked) return;
    if (out.gifId) {
      composerBusy();
      client.send({ gifId: out.gifId, replyTo: out.replyTo });
    } else {
      composer.requestSubmit();
    }
  });
  growWithText(body);
  enterSubmits(body);
  body.addEventListener("keydown", (event) => {
    if (event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && reply.target) {
      event.preventDefault();
      reply.cancel();
    } else if (event.key === "ArrowUp" && !event.shiftKey && body.value === "" && !client.busy) {
      if (actions.editLast()) event.preventDefault();
    }
  });
  composer.querySelector("[data-reply-cancel]").addEventListener("click", () => {
    reply.cancel();
    body.focus();
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (client.busy || gate.blocked) return;
    const text = body.value.trim();
    const url = gif.value.trim();
    if (!text && !url) {
      return composerStatus("메시지나 GIF 주소를 입력해 주세요.", true, { invalid: true });
    }
    if (url && !/^https?:\/\/\S+$/i.test(url)) {
      gifs.showAddress();
      return composerStatus("GIF 주소는 http:// 또는 https:// 로 시작해야 해요.", true, {
        invalid: true,
      });
    }
    // The text stays in the box, read-only, until the server says it is stored.
    composerBusy();
    client.send({ body: text, gifUrl: url, replyTo: reply.target?.eventId ?? null });
  });
}

// --- the header: the room's details on phones, counts after a reconnect ---------------------------

// The ⓘ button opens the room's image, description and tags over the log (phones; desktop shows
// them in the header and hides the button). Escape or a tap elsewhere closes it.
const about = root.querySelector("[data-about]");
const aboutToggle = root.querySelector("[data-about-toggle]");
function showAbout(open) {
  about.classList.toggle("room__about--open", open);
  aboutToggle.setAttribute("aria-expanded", String(open));
}
aboutToggle.addEventListener("click", () => showAbout(!about.classList.contains("room__about--open")));
head.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && about.classList.contains("room__about--open")) {
    event.preventDefault();
    showAbout(false);
    aboutToggle.focus();
  }
});
document.addEventListener("pointerdown", (event) => {
  if (!about.contains(event.target) && !aboutToggle.contains(event.target)) showAbout(false);
});

// Likes and the online count are not replayed after a drop (only the log is): read them again.
async function recount() {
  try {
    const { ok, data } = await request(root.dataset.roomUrl);
    if (!ok) return;
    setRoomLikes(head, { count: data.like_count });
    if (data.online !== null && data.online !== undefined) showOnline(head, data.online);
  } catch {
    // the next frame brings them
  }
}

// The send box is one line that grows with its text (CSS field-sizing where the browser has
// it; elsewhere its height follows the text here, up to the CSS max-height, then it scrolls).
function growWithText(box) {
  if (CSS.supports?.("field-sizing", "content")) return;
  const fit = () => {
    box.style.height = "auto";
    box.style.height = `${box.scrollHeight + box.offsetHeight - box.clientHeight}px`;
  };
  box.addEventListener("input", fit);
  new MutationObserver(fit).observe(box, { attributes: true, attributeFilter: ["readonly"] });
  composer.addEventListener("reset", () => requestAnimationFrame(fit));
  fit();
}

// "오늘" becomes "어제" at midnight while the page stays open.
let today = dayKey(new Date());
setInterval(() => {
  const now = dayKey(new Date());
  if (now !== today) {
    today = now;
    list.relabelDays();
  }
}, 60000);

enhanceLikeForms(root);
client.start(initial);
// Open at the message a link names (a notification: #msg-<seq>), else where the member stopped
// reading when others wrote since (a little of what they had read above it), else at the newest.
const linked = /^#msg-(\d+)$/.exec(location.hash);
const anchor = linked ? list.items.get(Number(linked[1])) : null;
const divider = anchor ? null : placeDivider(list, initial, { lastReadSeq, meId });
if (anchor) {
  anchor.scrollIntoView({ block: "center" });
  anchor.focus({ preventScroll: true });
  anchor.classList.add("msg--flash");
  setTimeout(() => anchor.classList.remove("msg--flash"), FLASH_MS);
  pinned = atBottom();
  show(jump, !pinned);
} else if (divider) {
  const context = Math.min(120, log.clientHeight / 4);
  log.scrollTop += divider.getBoundingClientRect().top - log.getBoundingClientRect().top - context;
  pinned = atBottom();
  show(jump, !pinned);
} else {
  toBottom();
}
if (meId !== null) reads.start();
