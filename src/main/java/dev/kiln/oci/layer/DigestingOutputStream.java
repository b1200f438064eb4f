package dev.kiln.oci.layer;

import dev.kiln.oci.Digester;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** Passes bytes through while digesting and counting them; closing it leaves the target open. */
final class DigestingOutputStream extends FilterOutputStream {
    private final Digester digester = Digester.sha256();
    private final boolean closeTarget;

    DigestingOutputStream(OutputStream out, boolean closeTarget) {
        super(out);
        this.closeTarget = closeTarget;
    }

    Digester digester() {
        return digester;
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
        digester.update(new byte[] {(byte) b});
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        digester.update(b, off, len);
    }

    @Override
    public void close() throws IOException {
        if (closeTarget) {
            out.close();
        } else {
            out.flush();
        }
    }
}
