package dev.kiln.store;

import java.io.IOException;

/** The store could not persist bytes (disk full, I/O error); whatever was partial has been removed. */
public class StoreWriteException extends IOException {
    public StoreWriteException(String message, Throwable cause) {
        super(message, cause);
    }
}
