// Enter sends, Shift+Enter adds a line. An Enter that confirms a Korean (IME) syllable must not
// send half a word, hence the isComposing check.
export function isSendKey(event) {
  return (
    event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229
  );
}

export function enterSubmits(textarea) {
  textarea.addEventListener("keydown", (event) => {
    if (!isSendKey(event)) return;
    event.preventDefault();
    textarea.form.requestSubmit();
  });
}
