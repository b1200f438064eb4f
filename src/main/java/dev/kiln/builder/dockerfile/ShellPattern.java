package dev.kiln.builder.dockerfile;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The glob used by {@code ${var#pat}}, {@code ${var%pat}} and {@code ${var/pat/rep}}:
 * {@code *} is any run of characters, {@code ?} one character, and {@code \} quotes
 * {@code * ? \} (or drops itself before the {@code } /} delimiters it had to protect).
 */
final class ShellPattern {

    // Like BuildKit (Go regexp without the s flag), wildcards do not cross a newline.
    private final Pattern regex;

    private ShellPattern(Pattern regex) {
        this.regex = regex;
    }

    static ShellPattern compile(String glob) {
        StringBuilder regex = new StringBuilder();
        int[] cps = glob.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            int cp = cps[i];
            String literal;
            if (cp == '*') {
                regex.append(".*");
                continue;
            } else if (cp == '?') {
                regex.append('.');
                continue;
            } else if (cp == '\\') {
                int escaped = i + 1 < cps.length ? cps[i + 1] : -1;
                if (escaped == '}' || escaped == '/') {
                    continue;
                }
                if (escaped != '*' && escaped != '?' && escaped != '\\') {
                    throw new ShellExpansionException("invalid pattern (" + glob + ") in substitution: invalid escape '\\"
                            + (escaped < 0 ? "" : Character.toString(escaped)) + "'");
                }
                i++;
                literal = Character.toString(escaped);
            } else {
                literal = Character.toString(cp);
            }
            regex.append(Pattern.quote(literal));
        }
        return new ShellPattern(Pattern.compile(regex.toString(), Pattern.UNIX_LINES));
    }

    /** {@code ${v#p}} removes the shortest matching prefix, {@code ${v##p}} the longest. */
    String removePrefix(String value, boolean longest) {
        int cut = -1;
        for (int end = 0; ; end = value.offsetByCodePoints(end, 1)) {
            if (regex.matcher(value.substring(0, end)).matches()) {
                cut = end;
                if (!longest) {
                    break;
                }
            }
            if (end == value.length()) {
                break;
            }
        }
        return cut < 0 ? value : value.substring(cut);
    }

    /** {@code ${v%p}} removes the shortest matching suffix, {@code ${v%%p}} the longest. */
    String removeSuffix(String value, boolean longest) {
        int cut = -1;
        for (int start = value.length(); ; start = value.offsetByCodePoints(start, -1)) {
            if (regex.matcher(value.substring(start)).matches()) {
                cut = start;
                if (!longest) {
                    break;
                }
            }
            if (start == 0) {
                break;
            }
        }
        return cut < 0 ? value : value.substring(0, cut);
    }

    /** {@code ${v/p/r}} replaces the leftmost longest match, {@code ${v//p/r}} every match. */
    String replace(String value, String replacement, boolean all) {
        Matcher m = regex.matcher(value);
        String quoted = Matcher.quoteReplacement(replacement);
        return all ? m.replaceAll(quoted) : m.replaceFirst(quoted);
    }
}
