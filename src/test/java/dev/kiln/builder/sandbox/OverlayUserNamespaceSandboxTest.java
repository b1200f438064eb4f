package dev.kiln.builder.sandbox;

/** {@link UserNamespaceSandboxTest}'s cases on an overlay, as {@link OverlayNamespaceSandboxTest} runs them. */
class OverlayUserNamespaceSandboxTest extends UserNamespaceSandboxTest {
    @Override
    Sandbox sandbox() {
        return OverlayNamespaceSandboxTest.onOverlay(new NamespaceSandbox(false));
    }
}
