/* Small checks on UTF-8 text and JSON values that input validation and error
 * messages share (the API's body fields, the operations catalog's
 * parameters, the sandbox's world files). */
#ifndef ESCHER_CORE_TEXT_H
#define ESCHER_CORE_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Characters (UTF-8 code points) in s, which must be valid UTF-8 (jansson and
 * PostgreSQL hand out only that): limits are stated in characters. */
size_t text_utf8_chars(const char *s);

/* True when s holds a C0 control character or DEL. */
bool text_has_control(const char *s);

/* The value 0-15 of the hex digit c (either case), or -1. */
int text_hex_digit(int c);

/* "an object", "an array", "a string", "a number", "a boolean" or "null": v's
 * JSON type as a message says it. Static strings. */
const char *text_json_type(const json_t *v);

#endif
