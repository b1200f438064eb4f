package dev.kiln.builder.dockerfile;

import java.util.List;
import java.util.Locale;

/**
 * One instruction as the parser saw it, before any meaning is given to its arguments.
 *
 * @param keyword     the instruction
 * @param instruction the instruction word as written (case preserved, for messages)
 * @param flags       leading {@code --name[=value]} words, verbatim
 * @param args        the arguments; for ENV and LABEL (key, value, separator) triples where the
 *                    separator is {@code "="} or {@code ""} for the legacy {@code ENV k v} form;
 *                    for HEALTHCHECK the type word followed by the command
 * @param json        the arguments came from a JSON array (exec form)
 * @param trigger     the instruction wrapped by ONBUILD, otherwise null
 * @param heredocs    here-documents opened on this line, in order
 * @param original    the logical line (continuations joined, comments removed)
 * @param startLine   1-based first physical line
 * @param endLine     1-based last physical line, heredoc bodies included
 */
public record Node(Keyword keyword, String instruction, List<String> flags, List<String> args, boolean json,
                   Node trigger, List<Heredoc> heredocs, String original, int startLine, int endLine) {

    public Node {
        flags = List.copyOf(flags);
        args = List.copyOf(args);
        heredocs = List.copyOf(heredocs);
    }

    /** BuildKit's parse-tree dump of this node, e.g. {@code (copy ["--from=a"] "x" "/y")}. */
    public String toBuildKitString() {
        StringBuilder out = new StringBuilder("(").append(instruction.toLowerCase(Locale.ROOT));
        if (!flags.isEmpty()) {
            out.append(" [");
            for (int i = 0; i < flags.size(); i++) {
                out.append(i == 0 ? "" : " ").append(GoText.quote(flags.get(i)));
            }
            out.append(']');
        }
        if (trigger != null) {
            out.append(' ').append(trigger.toBuildKitString());
        }
        for (String arg : args) {
            out.append(' ').append(GoText.quote(arg));
        }
        return out.append(')').toString();
    }

    Node withHeredocs(List<Heredoc> docs, int lastLine) {
        return new Node(keyword, instruction, flags, args, json, trigger, docs, original, startLine, lastLine);
    }
}
