package dev.kiln.store;

import java.io.IOException;

/** The store's directory cannot serve as a store (not writable, or not there when it must be); the message says what to change. */
public class StoreNotUsableException extends IOException {
    public StoreNotUsableException(String message, Throwable cause) {
        super(message, cause);
    }
}
