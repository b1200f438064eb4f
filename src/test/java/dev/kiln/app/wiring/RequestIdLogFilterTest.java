package dev.kiln.app.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.app.http.RequestIds;
import java.util.logging.Level;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;

class RequestIdLogFilterTest {
    private static ExtLogRecord record(String format, ExtLogRecord.FormatStyle style, Object... parameters) {
        ExtLogRecord record = new ExtLogRecord(Level.INFO, format, style, RequestIdLogFilterTest.class.getName());
        record.setLoggerName("dev.kiln.app.wiring.BuildMetrics");
        record.setParameters(parameters);
        record.putMdc(RequestIds.MDC_KEY, "91bf3312401a82fa");
        return record;
    }

    @Test
    void aPrintfStyleLineKeepsItsParametersAndGainsTheRequestId() {
        ExtLogRecord line = record("build %s %s", ExtLogRecord.FormatStyle.PRINTF, "8aeb2a", "queued");
        new RequestIdLogFilter().isLoggable(line);
        assertEquals("build 8aeb2a queued [request 91bf3312401a82fa]", line.getFormattedMessage());
    }

    @Test
    void aMessageFormatLineKeepsItsParametersAndGainsTheRequestId() {
        ExtLogRecord line = record("fetched blob {0}", ExtLogRecord.FormatStyle.MESSAGE_FORMAT, "x/y@sha256:ab");
        new RequestIdLogFilter().isLoggable(line);
        assertEquals("fetched blob x/y@sha256:ab [request 91bf3312401a82fa]", line.getFormattedMessage());
    }
}
