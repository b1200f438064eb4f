package dev.kiln.builder.dockerfile;

import java.util.regex.Pattern;

/**
 * The command a RUN with here-documents runs, as BuildKit's Dockerfile frontend builds it:
 * <ul>
 *   <li>a lone {@code <<EOF} whose body starts with {@code #!} is a script for that interpreter;</li>
 *   <li>any other lone {@code <<EOF}: the body is the shell script itself;</li>
 *   <li>otherwise ({@code RUN <<EOF sh}, {@code RUN python3 <<EOF}, several heredocs) the
 *       bodies follow the command line, so the shell feeds each to its command as a here-document
 *       (expanding an unquoted one, as sh does).</li>
 * </ul>
 */
public final class HeredocRun {

    private HeredocRun() {
    }

    public static Command command(Instruction.Run run) {
        if (run.heredocs().isEmpty() || !(run.command() instanceof Command.ShellForm shell)) {
            return run.command();
        }
        String line = shell.script().trim();
        Heredoc first = run.heredocs().get(0);
        if (run.heredocs().size() == 1 && line.matches("<<-?[\"']?" + Pattern.quote(first.name()) + "[\"']?")) {
            String body = first.text();
            return new Command.ShellForm(body.startsWith("#!") ? script(body) : body);
        }
        StringBuilder script = new StringBuilder(shell.script()).append('\n');
        for (Heredoc h : run.heredocs()) {
            script.append(h.content());
            if (!h.content().isEmpty() && !h.content().endsWith("\n")) {
                script.append('\n');
            }
            script.append(h.name()).append('\n');
        }
        return new Command.ShellForm(script.toString());
    }

    /**
     * A {@code #!} body run by its interpreter, as the kernel would run it from a file: BuildKit
     * mounts the body as a file; here it reaches the interpreter on descriptor 3, given as
     * {@code /dev/fd/3}, so nothing is written into the rootfs and standard input stays the RUN's.
     */
    private static String script(String body) {
        int end = body.indexOf('\n');
        String shebang = (end < 0 ? body.substring(2) : body.substring(2, end)).strip();
        int space = shebang.indexOf(' ') < 0 ? shebang.indexOf('\t') : shebang.indexOf(' ');
        String interpreter = space < 0 ? shebang : shebang.substring(0, space);
        String argument = space < 0 ? "" : shebang.substring(space + 1).strip();
        String delimiter = "KILN_SCRIPT";
        while (body.lines().anyMatch(delimiter::equals)) {
            delimiter = delimiter + "_";
        }
        StringBuilder s = new StringBuilder("exec ").append(quote(interpreter));
        if (!argument.isEmpty()) {
            s.append(' ').append(quote(argument)); // the kernel passes the rest of the line as one argument
        }
        s.append(" /dev/fd/3 3<<'").append(delimiter).append("'\n").append(body);
        if (!body.endsWith("\n")) {
            s.append('\n');
        }
        return s.append(delimiter).append('\n').toString();
    }

    private static String quote(String word) {
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
