// Drawing the title-hakwon page: comments and replies, their counts, the close. Text goes in
// through textContent only (dom.el).
import { agoLabel, el, show } from "../dom.js";

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

export function commentItem(comment, { canReply, canLike, authorUrl }) {
  const item = el("li", comment.parent_id ? "comment comment--reply" : "comment");
  item.dataset.commentId = String(comment.id);
  item.id = `comment-${comment.id}`; // notifications link here

  const meta = el("p", "comment__meta");
  const author = el("a", "comment__author", comment.author.nickname || comment.author.username);
  author.href = authorUrl(comment.author.username);
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

// The captions shown, in the order shown, and the replies read under them: by comment id.
export class CommentList {
  // meId: the reader's id ("" for a guest); authorUrl(username): a member's page.
  constructor(list, { meId, open, authorUrl }) {
    this.list = list;
    this.meId = meId;
    this.open = open;
    this.authorUrl = authorUrl;
    this.items = new Map(); // comment id -> <li>
  }

  get isEmpty() {
    return this.list.children.length === 0;
  }

  has(id) {
    return this.items.has(id);
  }

  get(id) {
    return this.items.get(id);
  }

  // A fresh first page: what was shown before goes.
  replace(comments) {
    this.items.clear();
    this.list.replaceChildren(...comments.map((comment) => this.#item(comment)));
  }

  // A caption at the end (the next page) or at the top (a new one); one already shown stays put.
  append(comment) {
    if (!this.items.has(comment.id)) this.list.append(this.#item(comment));
  }

  prepend(comment) {
    if (!this.items.has(comment.id)) this.list.prepend(this.#item(comment));
  }

  update(comment) {
    const item = this.items.get(comment.id);
    if (item) updateComment(item, comment);
  }

  // Replies read from the API into the box of `parent` (a caption's item).
  appendReplies(parent, replies) {
    const box = parent.querySelector(".replies__list");
    for (const reply of replies) {
      if (!this.items.has(reply.id)) box.append(this.#item(reply));
    }
  }

  // A new reply: its caption counts it, and shows it when the replies were read already.
  addReply(reply) {
    if (this.items.has(reply.id)) return;
    const parent = this.items.get(reply.parent_id);
    if (!parent) return;
    setReplyCount(parent, replyCount(parent) + 1);
    const box = parent.querySelector(".replies");
    if (box.dataset.loaded) box.querySelector(".replies__list").append(this.#item(reply));
  }

  // A deletion: a caption with replies stays as a placeholder, anything else goes. True when an
  // item left the page.
  remove({ comment_id: id, parent_id: parentId, placeholder }) {
    const item = this.items.get(id);
    if (!item) return false;
    if (placeholder) {
      markDeleted(item);
      return false;
    }
    item.remove();
    this.items.delete(id);
    const parent = this.items.get(parentId);
    if (parent) setReplyCount(parent, replyCount(parent) - 1);
    return true;
  }

  // The hakwon closed: no more replies or likes.
  close() {
    this.open = false;
    this.list.querySelectorAll(".reply-form").forEach((form) => form.remove());
    this.list.querySelectorAll("[data-like]").forEach((button) => {
      button.disabled = true;
    });
  }

  #item(comment) {
    // One's own comment cannot be liked (the API answers 403 own_comment): no button to press.
    const own = Boolean(this.meId) && String(comment.author.id) === this.meId;
    const item = commentItem(comment, {
      canReply: this.open && Boolean(this.meId),
      canLike: this.open && !own,
      authorUrl: this.authorUrl,
    });
    this.items.set(comment.id, item);
    return item;
  }
}

// The close as the page's head shows it: the badge, and the day's winners in the banner.
export function showClosed(root, awards) {
  const badge = root.querySelector("[data-hakwon-state]");
  badge.textContent = "마감";
  badge.classList.remove("badge--live");
  const banner = root.querySelector("[data-closed-banner]");
  banner.replaceChildren(el("p", "", "마감되었어요! 오늘의 수상작:"));
  const list = el("ol", "award-list");
  for (const award of awards) {
    const line = el("li", "award");
    line.append(
      el("span", `rank rank--${award.rank}`, `${award.rank}위`),
      el("span", "award__content", `“${award.content}”`),
      el("span", "muted", `${award.member.nickname} · 좋아요 ${award.like_count}`),
    );
    list.append(line);
  }
  if (!awards.length) list.append(el("li", "muted", "수상작이 없어요."));
  banner.append(list);
  show(banner, true);
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
