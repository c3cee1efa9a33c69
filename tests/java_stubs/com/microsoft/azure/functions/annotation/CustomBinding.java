// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions.annotation;

import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.ANNOTATION_TYPE)
public @interface CustomBinding {
    String name();
    String type();
    String direction();
    Cardinality cardinality() default Cardinality.ONE;
}
