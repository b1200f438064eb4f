package dev.kiln.app.config;

/** A setting a person must fix: {@code kiln serve} prints its message as one line and stops. */
public class ConfigurationProblem extends RuntimeException {
    public ConfigurationProblem(String message, Throwable cause) {
        super(message, cause);
    }
}
