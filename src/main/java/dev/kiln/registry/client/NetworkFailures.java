package dev.kiln.registry.client;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import javax.net.ssl.SSLException;

/**
 * Turns the JDK's network exceptions into the few words a person needs: what failed and what to
 * change. Many of them carry no message at all ({@code ConnectException} from the HTTP client), so
 * printing {@code getMessage()} alone shows "null".
 */
public final class NetworkFailures {
    private NetworkFailures() {
    }

    /** Why {@code host} could not be talked to, e.g. "connection refused (nothing listens there)". */
    public static String reason(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (speaksPlainHttp(cause)) {
                return "it answered in plain HTTP, not TLS";
            }
            if (cause instanceof UnknownHostException) {
                return "unknown host";
            }
            if (cause instanceof HttpConnectTimeoutException) {
                return "connecting timed out";
            }
            if (cause instanceof ConnectException) {
                return "connection refused (nothing listens there)";
            }
            if (cause instanceof NoRouteToHostException) {
                return "no route to host";
            }
            if (cause instanceof SocketTimeoutException || cause instanceof HttpTimeoutException) {
                return "it stopped answering (timed out)";
            }
        }
        String message = failure.getMessage();
        return message == null || message.isBlank() ? failure.getClass().getSimpleName() : message;
    }

    /** A TLS handshake that got an HTTP response: the server has no TLS on that port. */
    public static boolean speaksPlainHttp(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            String message = cause.getMessage();
            if (cause instanceof SSLException && message != null
                    && (message.contains("plaintext connection") || message.contains("Unsupported or unrecognized SSL message"))) {
                return true;
            }
        }
        return false;
    }
}
