package dev.kiln.oci;

import java.util.regex.Pattern;

/** A repository name as the OCI distribution spec allows it: lower-case path components, no {@code ..}. */
public record RepositoryName(String value) implements Comparable<RepositoryName> {
    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
    public static final int MAX_LENGTH = 255;

    public RepositoryName {
        String problem = problem(value);
        if (problem != null) {
            throw new InvalidNameException(problem);
        }
    }

    private static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "repository name is empty";
        }
        if (value.length() > MAX_LENGTH) {
            return "repository name is longer than " + MAX_LENGTH + " characters";
        }
        for (String component : value.split("/", -1)) {
            if (!COMPONENT.matcher(component).matches()) {
                return "invalid repository name " + quote(value)
                        + ": each path component must be lower-case letters and digits separated by '.', '_', '__' or '-'";
            }
        }
        return null;
    }

    private static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }

    public String firstComponent() {
        int slash = value.indexOf('/');
        return slash < 0 ? value : value.substring(0, slash);
    }

    @Override
    public int compareTo(RepositoryName o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
