// The title-hakwon socket client (docs/protocol.md, "Title-hakwon socket").
//
// - Reconnects by itself (LiveSocket). The socket replays nothing, so after a reconnect the
//   client reads the first page of the list being shown (`catchUpUrl()`) and hands its comments,
//   oldest first, to `created` like new ones: the view merges by id, nothing is shown twice.
// - Counts the `comment.liked` events per comment: a like sent over REST uses the count in its
//   own answer only when no live event (which carries the committed count) came meanwhile.
import { request } from "../http.js";
import { LiveSocket } from "../live.js";

export class HakwonClient {
  // view: {created(comment), replied(comment), updated(comment), deleted(frame), liked(frame),
  //        closed(frame), state(name)}
  constructor({ wsPath, catchUpUrl, view }) {
    this.view = view;
    this.catchUpUrl = catchUpUrl;
    this.likeEvents = new Map(); // comment id -> comment.liked frames received
    this.socket = new LiveSocket(wsPath, {
      onFrame: (frame) => this.#receive(frame),
      onOpen: (reconnected) => reconnected && this.#catchUp(),
      onState: (state) => view.state(state),
    });
  }

  start() {
    this.socket.start();
  }

  get isOpen() {
    return this.socket.isOpen;
  }

  likeEventCount(commentId) {
    return this.likeEvents.get(commentId) || 0;
  }

  #receive(frame) {
    switch (frame.type) {
      case "comment.created":
        this.view.created(frame.comment);
        break;
      case "reply.created":
        this.view.replied(frame.comment);
        break;
      case "comment.updated":
        this.view.updated(frame.comment);
        break;
      case "comment.deleted":
        this.view.deleted(frame);
        break;
      case "comment.liked":
        this.likeEvents.set(frame.comment_id, this.likeEventCount(frame.comment_id) + 1);
        this.view.liked(frame);
        break;
      case "hakwon.closed":
        this.view.closed(frame);
        break;
      default:
        break; // newer server, older page: ignore what we do not know
    }
  }

  async #catchUp() {
    const { ok, data } = await request(this.catchUpUrl()).catch(() => ({ ok: false }));
    if (!ok) return;
    for (const comment of [...data.results].reverse()) this.view.created(comment);
  }
}
