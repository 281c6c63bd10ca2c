// Drawing title-hakwon comments. Text goes in through textContent only (dom.el).
import { agoLabel, el } from "../dom.js";

const DELETED_TEXT = "삭제된 댓글이에요.";

function likeButton(comment, canLike) {
  const button = el("button", "like");
  button.type = "button";
  button.disabled = !canLike; // likes count only while the hakwon is open
  button.dataset.like = String(comment.id);
  button.setAttribute("aria-pressed", String(Boolean(comment.liked)));
  const heart = el("span", "like__heart", "♥");
  heart.setAttribute("aria-hidden", "true");
  button.append(heart, el("span", "visually-hidden", "좋아요"), " ");
  button.append(el("span", "", comment.like_count));
  button.lastChild.dataset.likeCount = "";
  return button;
}

export function commentItem(comment, { canReply, canLike }) {
  const item = el("li", comment.parent_id ? "comment comment--reply" : "comment");
  item.dataset.commentId = String(comment.id);

  const meta = el("p", "comment__meta");
  const author = el("a", "comment__author", comment.author.nickname || comment.author.username);
  author.href = `/members/${encodeURIComponent(comment.author.username)}/`;
  const time = el("time", "comment__time", agoLabel(comment.created_at));
  time.dateTime = comment.created_at;
  meta.append(author, time, el("span", "comment__edited", "수정됨"));

  const actions = el("div", "comment__actions");
  actions.append(likeButton(comment, canLike));
  if (!comment.parent_id) {
    const toggle = el("button", "link-button");
    toggle.type = "button";
    toggle.dataset.replies = String(comment.id);
    toggle.setAttribute("aria-expanded", "false");
    toggle.append("답글 ", el("span", "", comment.reply_count));
    toggle.lastChild.dataset.replyCount = "";
    actions.append(toggle);
  }
  item.append(meta, el("p", "comment__content"), actions);
  if (!comment.parent_id) item.append(repliesBox(comment, canReply));
  updateComment(item, comment);
  return item;
}

function repliesBox(comment, canReply) {
  const box = el("div", "replies");
  box.hidden = true;
  box.append(el("ol", "replies__list"));
  if (canReply) {
    const form = el("form", "reply-form");
    form.dataset.replyForm = String(comment.id);
    form.noValidate = true;
    const id = `reply-${comment.id}`;
    const label = el("label", "visually-hidden", "답글 쓰기");
    label.htmlFor = id;
    const input = el("textarea");
    input.id = id;
    input.name = "content";
    input.rows = 1;
    input.maxLength = 500;
    input.placeholder = "답글 쓰기 (Enter 등록)";
    const send = el("button", "button", "등록");
    send.type = "submit";
    const status = el("p", "composer__status composer__status--error");
    status.setAttribute("role", "alert");
    status.hidden = true;
    const row = el("div", "composer__row");
    row.append(input, send);
    form.append(label, row, status);
    box.append(form);
  }
  return box;
}

// Content, edited mark and deletion of an existing item.
export function updateComment(item, comment) {
  const deleted = Boolean(comment.is_deleted);
  item.classList.toggle("comment--deleted", deleted);
  item.querySelector(".comment__content").textContent = deleted ? DELETED_TEXT : comment.content;
  item.querySelector(".comment__edited").hidden = !comment.is_edited || deleted;
  if (comment.like_count !== undefined) setLikeCount(item, comment.like_count);
  if (comment.liked !== undefined) setLiked(item, comment.liked);
  if (comment.reply_count !== undefined) setReplyCount(item, comment.reply_count);
}

export function markDeleted(item) {
  updateComment(item, { is_deleted: true, is_edited: false });
}

const own = (item, selector) =>
  [...item.querySelectorAll(selector)].find((n) => n.closest(".comment") === item);

export function setLikeCount(item, count) {
  own(item, "[data-like-count]").textContent = String(count);
}

export function likeCount(item) {
  return Number(own(item, "[data-like-count]").textContent);
}

export function setLiked(item, liked) {
  own(item, "[data-like]").setAttribute("aria-pressed", String(liked));
}

export function setReplyCount(item, count) {
  const counter = own(item, "[data-reply-count]");
  if (counter) counter.textContent = String(Math.max(0, count));
}

export function replyCount(item) {
  const counter = own(item, "[data-reply-count]");
  return counter ? Number(counter.textContent) : 0;
}
