package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits ENV, LABEL and ARG arguments on unquoted whitespace. Quotes and escapes stay in the
 * words because they are only interpreted later, when the value is expanded; this is why
 * {@code ENV a="x y"} is stored as {@code "x y"} with its quotes.
 */
final class QuotedWords {

    private enum Phase { SPACES, WORD, QUOTED }

    private QuotedWords() {
    }

    static List<String> split(String text, char escape) {
        int[] cps = text.codePoints().toArray();
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        Phase phase = Phase.SPACES;
        int quote = 0;
        // A quoted empty string ("") is still a word even though it adds no characters.
        boolean hadQuotes = false;
        for (int i = 0; i <= cps.length; i++) {
            if (phase == Phase.SPACES) {
                if (i == cps.length) {
                    break;
                }
                if (GoText.isSpace(cps[i])) {
                    continue;
                }
                phase = Phase.WORD;
            }
            if (i == cps.length) {
                if (hadQuotes || word.length() > 0) {
                    words.add(word.toString());
                }
                break;
            }
            int ch = cps[i];
            if (phase == Phase.WORD) {
                if (GoText.isSpace(ch)) {
                    phase = Phase.SPACES;
                    if (hadQuotes || word.length() > 0) {
                        words.add(word.toString());
                    }
                    word.setLength(0);
                    hadQuotes = false;
                    continue;
                }
                if (ch == '\'' || ch == '"') {
                    quote = ch;
                    hadQuotes = true;
                    phase = Phase.QUOTED;
                }
                if (ch == escape) {
                    if (i + 1 == cps.length) {
                        continue; // an escape at the very end is dropped
                    }
                    // An escaped character, even a quote, is kept verbatim with its escape.
                    word.appendCodePoint(ch);
                    ch = cps[++i];
                }
                word.appendCodePoint(ch);
                continue;
            }
            if (ch == quote) {
                phase = Phase.WORD;
            }
            // Inside single quotes nothing can be escaped.
            if (ch == escape && quote != '\'') {
                if (i + 1 == cps.length) {
                    phase = Phase.WORD;
                    continue;
                }
                word.appendCodePoint(ch);
                ch = cps[++i];
            }
            word.appendCodePoint(ch);
        }
        return words;
    }
}
