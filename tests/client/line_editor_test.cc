#include "src/client/line_editor.h"

#include <string>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

// Feeds `keys` and returns the next submitted line ("<none>" if none, "<eof>" for end of input).
std::string Submit(LineEditor& e, const std::string& keys) {
  e.Feed(keys);
  auto ev = e.TakeEvent();
  if (!ev.has_value()) return "<none>";
  return ev->kind == LineEditor::EventKind::kEndOfInput ? "<eof>" : ev->text;
}

TEST(LineEditor, EnterSubmitsAndClearsTheLine) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "hello\r"), "hello");
  EXPECT_EQ(e.buffer(), "");
  EXPECT_EQ(e.cursor(), 0u);
}

TEST(LineEditor, CrLfIsOneEnter) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "a\r\n"), "a");
  EXPECT_FALSE(e.TakeEvent().has_value());
}

TEST(LineEditor, LongLineIsTakenWhole) {
  LineEditor e;
  const std::string text(100000, 'x');
  EXPECT_EQ(Submit(e, text + "\r"), text);
}

TEST(LineEditor, InputBeyondTheCapIsDroppedAndCounted) {
  LineEditor e;
  e.Feed(std::string(LineEditor::kMaxLineBytes + 10, 'x'));
  EXPECT_EQ(e.buffer().size(), LineEditor::kMaxLineBytes);
  EXPECT_EQ(e.dropped_bytes(), 10u);
}

TEST(LineEditor, BracketedPasteKeepsNewlinesInOneSubmission) {
  LineEditor e;
  e.Feed("\x1b[200~one\ntwo\r\nthree\x1b[201~");
  EXPECT_FALSE(e.TakeEvent().has_value());
  EXPECT_EQ(Submit(e, "\r"), "one\ntwo\nthree");
}

TEST(LineEditor, EscapeSequencesAndUtf8MayStraddleFeeds) {
  LineEditor e;
  e.Feed("ab\x1b");
  e.Feed("[D\xc3");
  e.Feed("\xa9");
  EXPECT_EQ(Submit(e, "\r"), "a\xc3\xa9" "b");
}

TEST(LineEditor, LeftRightHomeEndMoveByCharacter) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "\xe5\xad\x97" "b\x1b[D\x1b[D" "a\x1b[F" "c\x1b[H" ">\x01<\x05!\r"), "<>a\xe5\xad\x97" "bc!");
}

TEST(LineEditor, BackspaceAndDeleteRemoveWholeCharacters) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "a\xf0\x9f\x8e\x89" "b\x7f\x7f\r"), "a");
  EXPECT_EQ(Submit(e, "xyz\x01\x1b[3~\r"), "yz");
}

TEST(LineEditor, KillKeys) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "hello world\x17\r"), "hello ");
  EXPECT_EQ(Submit(e, "hello world\x01\x06\x0b\r"), "h");
  EXPECT_EQ(Submit(e, "hello world\x1b[D\x15\r"), "d");
}

TEST(LineEditor, HistoryUpAndDownKeepTheLineBeingTyped) {
  LineEditor e;
  Submit(e, "first\r");
  Submit(e, "second\r");
  e.Feed("draft\x1b[A");
  EXPECT_EQ(e.buffer(), "second");
  e.Feed("\x1b[A\x1b[A");
  EXPECT_EQ(e.buffer(), "first");
  e.Feed("\x1b[B\x1b[B");
  EXPECT_EQ(e.buffer(), "draft");
}

TEST(LineEditor, CtrlDEndsInputEvenWithTextOnTheLine) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "some\x04"), "<eof>");
}

TEST(LineEditor, SetBufferPutsTextBackWithTheCursorAtItsEnd) {
  LineEditor e;
  e.SetBuffer("kept");
  EXPECT_EQ(e.cursor(), 4u);
  EXPECT_EQ(Submit(e, "!\r"), "kept!");
}

TEST(LineEditor, ViewWrapsAtTheWidth) {
  LineEditor e;
  e.Feed("abcdefgh");
  const EditorView v = e.View("> ", 4, 10);  // "> ab" "cdef" "gh"
  EXPECT_EQ(v.text, "> abcdefgh");
  EXPECT_EQ(v.cursor_row, 2u);
  EXPECT_EQ(v.cursor_col, 2u);
  EXPECT_EQ(v.end_row, 2u);
}

TEST(LineEditor, ViewAtAnExactMultipleOfTheWidthPutsTheCursorOnTheNextRow) {
  LineEditor e;
  e.Feed("abcdef");
  const EditorView v = e.View("> ", 4, 10);
  EXPECT_EQ(v.end_row, 1u);
  EXPECT_EQ(v.end_col, 4u);  // waiting to wrap
  EXPECT_EQ(v.cursor_row, 2u);
  EXPECT_EQ(v.cursor_col, 0u);
}

TEST(LineEditor, ViewWrapsAWideCharacterThatDoesNotFitWhole) {
  LineEditor e;
  e.Feed("a\xe5\xad\x97");  // "> a" + a two-column character: 5 columns on a 4-column terminal
  const EditorView v = e.View("> ", 4, 10);
  EXPECT_EQ(v.end_row, 1u);
  EXPECT_EQ(v.end_col, 2u);
  e.Feed("\x1b[D");  // the cursor on the wide character: at the start of the second row
  const EditorView w = e.View("> ", 4, 10);
  EXPECT_EQ(w.cursor_row, 1u);
  EXPECT_EQ(w.cursor_col, 0u);
}

TEST(LineEditor, ViewShowsControlCharactersVisibly) {
  LineEditor e;
  e.Feed("\x1b[200~a\nb\x1b[201~");
  EXPECT_EQ(e.View("", 80, 5).text, "a^Jb");
}

TEST(LineEditor, ViewOfALineTallerThanTheScreenIsAWindowAroundTheCursor) {
  LineEditor e;
  e.Feed(std::string(1000, 'x') + "END");
  const EditorView v = e.View("> ", 20, 3);
  EXPECT_LE(v.end_row, 2u);
  EXPECT_EQ(v.text.rfind("> \xe2\x80\xa6", 0), 0u);  // cut at the front, marked
  EXPECT_EQ(v.text.substr(v.text.size() - 3), "END");
  EXPECT_EQ(v.cursor_byte, v.text.size());
}

TEST(LineEditor, AnEscapeLeftAloneTooLongIsALoneEscAndWhatFollowsAreKeys) {
  LineEditor e;
  e.Feed("ab\x1b");
  EXPECT_TRUE(e.escape_pending());
  e.EscapeTimeout();
  EXPECT_FALSE(e.escape_pending());
  EXPECT_EQ(Submit(e, "c\r"), "abc");
  e.Feed("x\x1b[");  // Esc, then '[' typed by hand
  e.EscapeTimeout();
  EXPECT_EQ(Submit(e, "\r"), "x[");
}

TEST(LineEditor, AltBAndAltFMoveByWord) {
  LineEditor e;
  EXPECT_EQ(Submit(e, "one two\x1b" "bX\x1b" "f!\r"), "one Xtwo!");
}

TEST(LineEditor, CtrlLAsksForAClearScreenAndKeepsTheLine) {
  LineEditor e;
  e.Feed("typed\x0c");
  auto ev = e.TakeEvent();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, LineEditor::EventKind::kClearScreen);
  EXPECT_EQ(e.buffer(), "typed");
}

TEST(LineEditor, AnEscapeInsideAPasteDoesNotTimeOut) {
  LineEditor e;
  e.Feed("\x1b[200~pasted\x1b");  // the end marker cut after its ESC
  EXPECT_FALSE(e.escape_pending());
  e.Feed("[201~\r");
  auto ev = e.TakeEvent();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->text, "pasted");
}

}  // namespace
}  // namespace muxchat::client
