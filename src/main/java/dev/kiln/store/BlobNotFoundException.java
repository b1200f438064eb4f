package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.io.FileNotFoundException;

public class BlobNotFoundException extends FileNotFoundException {
    public BlobNotFoundException(Digest digest) {
        super("blob " + digest + " is not in the store");
    }
}
