package dev.kiln.app.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;

/**
 * {@code --version} for every command: the project version Maven wrote into {@code kiln-version.properties}.
 * A picocli command without a version provider prints an empty line, which CI templates that log
 * {@code executor --version} take for a broken image.
 */
public final class KilnVersion implements CommandLine.IVersionProvider {
    private static final String RESOURCE = "/kiln-version.properties";

    /** The version, or {@code unknown} when the resource was not filtered (a run from an IDE's classes). */
    public static String version() {
        try (InputStream in = KilnVersion.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "").trim();
                if (!v.isEmpty() && !v.startsWith("${")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // fall through: a version line must still be printed
        }
        return "unknown";
    }

    @Override
    public String[] getVersion() {
        return new String[] {"kiln " + version()};
    }
}
