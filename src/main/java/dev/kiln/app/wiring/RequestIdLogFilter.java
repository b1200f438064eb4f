package dev.kiln.app.wiring;

import dev.kiln.app.http.RequestIds;
import io.quarkus.logging.LoggingFilter;
import java.util.logging.Filter;
import java.util.logging.LogRecord;
import org.jboss.logmanager.ExtLogRecord;

/**
 * Appends {@code [request <id>]} to Kiln's own lines logged on behalf of a request, so the plain-text
 * log ties an upstream fetch or a build's queued line to the request that caused it (the JSON log
 * has the id in its {@code mdc} field as well). The access log prints the id in its own pattern.
 */
@LoggingFilter(name = "kiln-request-id")
public final class RequestIdLogFilter implements Filter {
    @Override
    public boolean isLoggable(LogRecord record) {
        if (record instanceof ExtLogRecord ext && record.getLoggerName() != null && record.getLoggerName().startsWith("dev.kiln")) {
            String id = ext.getMdc(RequestIds.MDC_KEY);
            if (id != null && !id.isEmpty() && record.getMessage() != null && !record.getMessage().contains("[request ")) {
                // keep the record's format style: a printf-style line (infof) set as a plain message
                // would print its %s placeholders instead of its parameters
                ext.setMessage(ext.getMessage() + " [request " + id + "]", ext.getFormatStyle());
            }
        }
        return true;
    }
}
