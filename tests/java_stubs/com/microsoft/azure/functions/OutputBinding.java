// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions;

public interface OutputBinding<T> {
    T getValue();
    void setValue(T value);
}
