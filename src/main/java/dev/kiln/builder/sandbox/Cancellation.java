package dev.kiln.builder.sandbox;

import java.util.ArrayList;
import java.util.List;

/** A cancel switch for a running {@link Sandbox#run}; cancelling kills the RUN with all its children. */
public final class Cancellation {
    private final List<Runnable> listeners = new ArrayList<>();
    private boolean cancelled;

    public void cancel() {
        List<Runnable> toRun;
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
            toRun = List.copyOf(listeners);
        }
        toRun.forEach(Runnable::run);
    }

    public synchronized boolean isCancelled() {
        return cancelled;
    }

    /** Runs {@code listener} on cancellation, at once when already cancelled. */
    public void onCancel(Runnable listener) {
        boolean now;
        synchronized (this) {
            now = cancelled;
            if (!now) {
                listeners.add(listener);
            }
        }
        if (now) {
            listener.run();
        }
    }

    public synchronized void remove(Runnable listener) {
        listeners.remove(listener);
    }
}
