package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;

/**
 * Takes the leading {@code --name[=value]} words off an instruction's arguments. Flags end at
 * the first word not starting with {@code --}, or at a lone {@code --} which is dropped.
 * Inside flags, quotes group and {@code \} escapes regardless of the escape directive.
 */
final class FlagExtractor {

    record Result(List<String> flags, String rest) {
    }

    private enum Phase { SPACES, WORD, QUOTED }

    private FlagExtractor() {
    }

    static Result extract(String text) {
        int[] cps = text.codePoints().toArray();
        List<String> flags = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        Phase phase = Phase.SPACES;
        int quote = 0;
        boolean hadQuotes = false;
        for (int i = 0; i <= cps.length; i++) {
            if (phase == Phase.SPACES) {
                if (i == cps.length) {
                    break;
                }
                int ch = cps[i];
                if (GoText.isSpace(ch)) {
                    continue;
                }
                if (ch != '-' || i + 1 == cps.length || cps[i + 1] != '-') {
                    return new Result(flags, remainder(cps, i));
                }
                phase = Phase.WORD;
            }
            if (i == cps.length) {
                if (!word.toString().equals("--") && (hadQuotes || word.length() > 0)) {
                    flags.add(word.toString());
                }
                break;
            }
            int ch = cps[i];
            if (phase == Phase.WORD) {
                if (GoText.isSpace(ch)) {
                    phase = Phase.SPACES;
                    if (word.toString().equals("--")) {
                        return new Result(flags, remainder(cps, i));
                    }
                    if (hadQuotes || word.length() > 0) {
                        flags.add(word.toString());
                    }
                    word.setLength(0);
                    hadQuotes = false;
                    continue;
                }
                if (ch == '\'' || ch == '"') {
                    quote = ch;
                    hadQuotes = true;
                    phase = Phase.QUOTED;
                    continue;
                }
            } else if (ch == quote) {
                phase = Phase.WORD;
                continue;
            }
            if (ch == '\\') {
                if (i + 1 == cps.length) {
                    phase = Phase.WORD;
                    continue;
                }
                ch = cps[++i];
            }
            word.appendCodePoint(ch);
        }
        return new Result(flags, "");
    }

    private static String remainder(int[] cps, int from) {
        return new String(cps, from, cps.length - from);
    }
}
