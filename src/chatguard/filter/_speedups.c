/* Generic text and counting kernels for the lightweight filter (see chatguard/filter/speedups.py).
 *
 * Every function here takes plain strings, byte tables, numbers, lists and dicts, and knows
 * nothing of messages, their fields, window keys, categories or thresholds: which characters
 * form a class, which fields make a key and what a count means are decided in Python, which
 * passes them in. Each has a Python reference form that runs when this module is not built
 * (or is turned off with CHATGUARD_SPEEDUPS=0), with the same results:
 *
 *   token_counts(text)              -> counts of text.split()'s tokens
 *   distinct_words(text, breaks)    -> the sorted distinct words between break characters
 *   translate_tokens(text, flags, table)
 *                                   -> the text with its tokens that hold characters of two
 *                                      classes mapped through a table (edges kept)
 *   char_profile(texts, classes, runs) -> per text, its characters counted by class and the
 *                                      longest run of one character
 *   squeeze(texts, table, pad, only) -> per text, mapped through a table, runs cut to one
 *   observe_windows(windows, spans, observations)
 *                                   -> sliding windows of distinct members, counted
 *   KeyScanner(keys).scan(joined)   -> an Aho-Corasick automaton over NUL-separated texts
 *   text_ends(texts)                -> where each text of their NUL-joined form ends
 *   records(cls, columns)           -> tuple-subclass instances made from columns
 *
 * Text kernels work on ASCII text and answer NotImplemented (or None per text) for other
 * text, which the Python forms handle.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* str.split()'s whitespace, for ASCII text. */
static int
is_split_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
}

static unsigned char split_spaces[256];

typedef struct {
    const char *start;
    Py_ssize_t length;
} Word;

/* The order of Python's str comparison, for ASCII: bytes first, then length. */
static int
compare_words(const void *a, const void *b)
{
    const Word *x = a, *y = b;
    Py_ssize_t shorter = x->length < y->length ? x->length : y->length;
    int order = memcmp(x->start, y->start, (size_t)shorter);
    if (order != 0) {
        return order;
    }
    return (x->length > y->length) - (x->length < y->length);
}

/* Sort words in str order: insertion sort for the few words of a short text (no call per
 * comparison), qsort for long texts. */
static void
sort_words(Word *words, Py_ssize_t count)
{
    if (count > 32) {
        qsort(words, (size_t)count, sizeof(Word), compare_words);
        return;
    }
    for (Py_ssize_t i = 1; i < count; i++) {
        Word current = words[i];
        Py_ssize_t j = i;
        while (j > 0) {
            const Word *before = &words[j - 1];
            unsigned char a = (unsigned char)before->start[0];
            unsigned char b = (unsigned char)current.start[0];
            int order = a != b ? (a > b) - (a < b) : compare_words(before, &current);
            if (order <= 0) {
                break;
            }
            words[j] = words[j - 1];
            j--;
        }
        words[j] = current;
    }
}

/* The words of ASCII `data`: runs of characters whose entry in `breaks` is 0. Returns the
 * count, or -1 (memory error set); `*words` is `on_stack` or memory to PyMem_Free. */
static Py_ssize_t
split_words(const char *data, Py_ssize_t length, const unsigned char *breaks, Word *on_stack,
            Py_ssize_t capacity, Word **words)
{
    Py_ssize_t count = 0, index = 0;
    *words = on_stack;
    while (index < length) {
        if (breaks[(unsigned char)data[index]]) {
            index++;
            continue;
        }
        Py_ssize_t start = index;
        while (index < length && !breaks[(unsigned char)data[index]]) {
            index++;
        }
        if (count == capacity) {
            Py_ssize_t larger = capacity * 2;
            Word *grown = PyMem_Malloc((size_t)larger * sizeof(Word));
            if (grown == NULL) {
                if (*words != on_stack) {
                    PyMem_Free(*words);
                }
                PyErr_NoMemory();
                return -1;
            }
            memcpy(grown, *words, (size_t)count * sizeof(Word));
            if (*words != on_stack) {
                PyMem_Free(*words);
            }
            *words = grown;
            capacity = larger;
        }
        (*words)[count].start = data + start;
        (*words)[count].length = index - start;
        count++;
    }
    return count;
}

/* A 256-byte table argument, or NULL (error set). */
static const unsigned char *
table_of(PyObject *table, const char *what)
{
    if (!PyBytes_Check(table) || PyBytes_GET_SIZE(table) != 256) {
        PyErr_Format(PyExc_ValueError, "%s must be a bytes table of 256 entries", what);
        return NULL;
    }
    return (const unsigned char *)PyBytes_AS_STRING(table);
}

/* token_counts(text) -> (tokens, distinct tokens, copies of the most frequent token) of
 * text.split(); NotImplemented for non-ASCII text. */
static PyObject *
token_counts(PyObject *module, PyObject *text)
{
    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "token_counts() needs a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    Word on_stack[64];
    Word *words;
    Py_ssize_t count = split_words((const char *)PyUnicode_1BYTE_DATA(text),
                                   PyUnicode_GET_LENGTH(text), split_spaces, on_stack, 64, &words);
    if (count < 0) {
        return NULL;
    }
    Py_ssize_t distinct = 0, top = 0, run = 0;
    if (count > 0) {
        sort_words(words, count);
        for (Py_ssize_t i = 0; i < count; i++) {
            if (i > 0 && compare_words(&words[i - 1], &words[i]) == 0) {
                run++;
            }
            else {
                distinct++;
                run = 1;
            }
            if (run > top) {
                top = run;
            }
        }
    }
    if (words != on_stack) {
        PyMem_Free(words);
    }
    return Py_BuildValue("(nnn)", count, distinct, top);
}

/* distinct_words(text, breaks) -> the distinct words of ASCII `text` (runs of characters
 * whose entry in the 256-byte table `breaks` is 0), sorted and joined by one space; None if it
 * has none; NotImplemented for non-ASCII text. */
static PyObject *
distinct_words(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "distinct_words() takes (text, breaks)");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "distinct_words() needs a str");
        return NULL;
    }
    const unsigned char *breaks = table_of(args[1], "breaks");
    if (breaks == NULL) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    Word on_stack[64];
    Word *words;
    Py_ssize_t count = split_words((const char *)PyUnicode_1BYTE_DATA(text),
                                   PyUnicode_GET_LENGTH(text), breaks, on_stack, 64, &words);
    if (count < 0) {
        return NULL;
    }
    if (count == 0) {
        if (words != on_stack) {
            PyMem_Free(words);
        }
        Py_RETURN_NONE;
    }
    sort_words(words, count);
    Py_ssize_t kept = 0, total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (kept > 0 && compare_words(&words[kept - 1], &words[i]) == 0) {
            continue;
        }
        words[kept++] = words[i];
        total += words[i].length;
    }
    total += kept - 1;
    PyObject *result = PyUnicode_New(total, 127);
    if (result == NULL) {
        if (words != on_stack) {
            PyMem_Free(words);
        }
        return NULL;
    }
    char *out = (char *)PyUnicode_1BYTE_DATA(result);
    for (Py_ssize_t i = 0; i < kept; i++) {
        if (i > 0) {
            *out++ = ' ';
        }
        memcpy(out, words[i].start, (size_t)words[i].length);
        out += words[i].length;
    }
    if (words != on_stack) {
        PyMem_Free(words);
    }
    return result;
}

/* Bits of the character table of `translate_tokens`. */
#define TOKEN_PART 1  /* a character of a token */
#define TOKEN_NEED_A 2 /* a token is mapped only if it holds a character of each NEED class */
#define TOKEN_NEED_B 4
#define TOKEN_EDGE 8  /* left as it is at either end of a token */

/* translate_tokens(text, flags, table) -> `text` with each token (a maximal run of characters
 * flagged TOKEN_PART in the 256-byte table `flags`) that holds a character flagged
 * TOKEN_NEED_A and one flagged TOKEN_NEED_B mapped through the 256-byte `table` (ASCII to
 * ASCII), except for the TOKEN_EDGE characters at either end of it; the length does not
 * change. NotImplemented for non-ASCII text. */
static PyObject *
translate_tokens(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "translate_tokens() takes (text, flags, table)");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "translate_tokens() needs a str");
        return NULL;
    }
    const unsigned char *flags = table_of(args[1], "flags");
    const unsigned char *table = flags ? table_of(args[2], "table") : NULL;
    if (table == NULL) {
        return NULL;
    }
    for (int c = 0; c < 128; c++) {
        if (table[c] >= 128) {
            PyErr_SetString(PyExc_ValueError, "table must map ASCII to ASCII");
            return NULL;
        }
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), index = 0;
    PyObject *result = NULL; /* made on the first token that maps differently */
    unsigned char *out = NULL;
    while (index < length) {
        if (!(flags[data[index]] & TOKEN_PART)) {
            index++;
            continue;
        }
        Py_ssize_t start = index;
        int seen = 0;
        while (index < length && (flags[data[index]] & TOKEN_PART)) {
            seen |= flags[data[index]];
            index++;
        }
        if (!(seen & TOKEN_NEED_A) || !(seen & TOKEN_NEED_B)) {
            continue;
        }
        Py_ssize_t head = start, tail = index;
        while (head < tail && (flags[data[head]] & TOKEN_EDGE)) {
            head++;
        }
        while (tail > head && (flags[data[tail - 1]] & TOKEN_EDGE)) {
            tail--;
        }
        for (Py_ssize_t k = head; k < tail; k++) {
            unsigned char mapped = table[data[k]];
            if (mapped == data[k]) {
                continue;
            }
            if (result == NULL) {
                result = PyUnicode_New(length, 127);
                if (result == NULL) {
                    return NULL;
                }
                out = PyUnicode_1BYTE_DATA(result);
                memcpy(out, data, (size_t)length);
            }
            out[k] = mapped;
        }
    }
    if (result == NULL) {
        Py_INCREF(text);
        return text;
    }
    return result;
}

#define PROFILE_CLASSES 16

/* char_profile(texts, classes, runs) -> per text, for ASCII text, a tuple of the count of its
 * characters in each class (`classes` maps each byte to a class 0..15; the tuple has one
 * entry per class up to the highest class in the table) followed by the length of the
 * longest run of one character among those whose class bit is set in `runs`; None for
 * non-ASCII text. */
static PyObject *
char_profile(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *texts, *table;
    unsigned long runs;
    if (!PyArg_ParseTuple(args, "OSk:char_profile", &texts, &table, &runs)) {
        return NULL;
    }
    const unsigned char *classes = table_of(table, "classes");
    if (classes == NULL) {
        return NULL;
    }
    int width = 0;
    for (int c = 0; c < 256; c++) {
        if (classes[c] >= PROFILE_CLASSES) {
            PyErr_SetString(PyExc_ValueError, "classes must be in 0..15");
            return NULL;
        }
        width = classes[c] + 1 > width ? classes[c] + 1 : width;
    }
    PyObject *items = PySequence_Fast(texts, "texts must be a sequence");
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(items, i);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "char_profile() needs a sequence of str");
            Py_CLEAR(result);
            break;
        }
        if (!PyUnicode_IS_ASCII(text)) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(result, i, Py_None);
            continue;
        }
        const unsigned char *data = PyUnicode_1BYTE_DATA(text);
        Py_ssize_t length = PyUnicode_GET_LENGTH(text);
        Py_ssize_t counts[PROFILE_CLASSES] = {0};
        Py_ssize_t run = 0, longest = 0;
        int previous = -1;
        for (Py_ssize_t k = 0; k < length; k++) {
            unsigned char c = data[k];
            unsigned char kind = classes[c];
            counts[kind]++;
            run = c == previous ? run + 1 : 1;
            previous = c;
            if (run > longest && ((runs >> kind) & 1)) {
                longest = run;
            }
        }
        PyObject *profile = PyTuple_New(width + 1);
        for (int j = 0; profile != NULL && j <= width; j++) {
            PyObject *number = PyLong_FromSsize_t(j < width ? counts[j] : longest);
            if (number == NULL) {
                Py_CLEAR(profile);
                break;
            }
            PyTuple_SET_ITEM(profile, j, number);
        }
        if (profile == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, profile);
    }
    Py_DECREF(items);
    return result;
}

/* squeeze(texts, table, pad, only=None) -> per text: `pad`, the text with its ASCII characters
 * mapped through the 256-byte `table` (ASCII to ASCII; other characters stay as they are) and
 * every run of one character cut to one, `pad` again (as `tr -s`). With the 256-byte table
 * `only`, only the runs of the ASCII characters it marks non-zero are cut (and none of other
 * characters). With `ascii_only`, non-ASCII text gives None instead. */

/* One non-ASCII text, squeezed the same way (code points, not bytes). */
static PyObject *
squeeze_wide(PyObject *text, const unsigned char *table, const unsigned char *only,
             const unsigned char *pad, Py_ssize_t pad_length)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *out = PyMem_Malloc(((size_t)length + 2 * (size_t)pad_length + 1) * sizeof(Py_UCS4));
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < pad_length; k++) {
        out[kept++] = pad[k];
    }
    Py_UCS4 previous = 0x110000;
    for (Py_ssize_t k = 0; k < length; k++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, k);
        int cut_runs = 1;
        if (c < 128) {
            c = table[c];
            cut_runs = only == NULL || only[c];
        }
        else if (only != NULL) {
            cut_runs = 0;
        }
        if (c != previous || !cut_runs) {
            out[kept++] = c;
            previous = c;
        }
    }
    for (Py_ssize_t k = 0; k < pad_length; k++) {
        out[kept++] = pad[k];
    }
    PyObject *squeezed = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, kept);
    PyMem_Free(out);
    return squeezed;
}

static PyObject *
squeeze(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    PyObject *texts, *table_in, *pad, *only_in = Py_None;
    int ascii_only = 0;
    static char *names[] = {"texts", "table", "pad", "only", "ascii_only", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OSU|Op:squeeze", names, &texts, &table_in,
                                     &pad, &only_in, &ascii_only)) {
        return NULL;
    }
    const unsigned char *table = table_of(table_in, "table");
    if (table == NULL) {
        return NULL;
    }
    const unsigned char *only = NULL;
    if (only_in != Py_None && (only = table_of(only_in, "only")) == NULL) {
        return NULL;
    }
    for (int c = 0; c < 128; c++) {
        if (table[c] >= 128) {
            PyErr_SetString(PyExc_ValueError, "table must map ASCII to ASCII");
            return NULL;
        }
    }
    if (!PyUnicode_IS_ASCII(pad)) {
        PyErr_SetString(PyExc_ValueError, "pad must be ASCII");
        return NULL;
    }
    const unsigned char *pad_data = PyUnicode_1BYTE_DATA(pad);
    Py_ssize_t pad_length = PyUnicode_GET_LENGTH(pad);
    PyObject *items = PySequence_Fast(texts, "texts must be a sequence");
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject *result = PyList_New(count);
    unsigned char on_stack[1024];
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(items, i);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "squeeze() needs a sequence of str");
            Py_CLEAR(result);
            break;
        }
        if (!PyUnicode_IS_ASCII(text)) {
            PyObject *wide = Py_None;
            Py_INCREF(wide);
            if (!ascii_only) {
                Py_DECREF(wide);
                wide = squeeze_wide(text, table, only, pad_data, pad_length);
                if (wide == NULL) {
                    Py_CLEAR(result);
                    break;
                }
            }
            PyList_SET_ITEM(result, i, wide);
            continue;
        }
        const unsigned char *data = PyUnicode_1BYTE_DATA(text);
        Py_ssize_t length = PyUnicode_GET_LENGTH(text), size = length + 2 * pad_length;
        unsigned char *out = size <= (Py_ssize_t)sizeof(on_stack) ? on_stack
                                                                   : PyMem_Malloc((size_t)size);
        if (out == NULL) {
            PyErr_NoMemory();
            Py_CLEAR(result);
            break;
        }
        Py_ssize_t kept = 0;
        memcpy(out, pad_data, (size_t)pad_length);
        kept += pad_length;
        int previous = -1;
        for (Py_ssize_t k = 0; k < length; k++) {
            unsigned char c = table[data[k]];
            if (c != previous || (only != NULL && !only[c])) {
                out[kept++] = c;
                previous = c;
            }
        }
        memcpy(out + kept, pad_data, (size_t)pad_length);
        kept += pad_length;
        PyObject *squeezed = PyUnicode_New(kept, 127);
        if (squeezed != NULL) {
            memcpy(PyUnicode_1BYTE_DATA(squeezed), out, (size_t)kept);
        }
        if (out != on_stack) {
            PyMem_Free(out);
        }
        if (squeezed == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, squeezed);
    }
    Py_DECREF(items);
    return result;
}

/* Drop the members of `window` last seen at or before `horizon` (the oldest come first). */
static int
trim_window(PyObject *window, double horizon)
{
    for (;;) {
        Py_ssize_t position = 0;
        PyObject *oldest, *seen;
        if (!PyDict_Next(window, &position, &oldest, &seen)) {
            return 0;
        }
        double at = PyFloat_AsDouble(seen);
        if (at == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (at > horizon) {
            return 0;
        }
        Py_INCREF(oldest);
        int failed = PyDict_DelItem(window, oldest);
        Py_DECREF(oldest);
        if (failed) {
            return -1;
        }
    }
}

static PyObject *
observe_windows(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *windows, *spans, *observations;
    if (!PyArg_ParseTuple(args, "O!O!O:observe_windows", &PyDict_Type, &windows, &PyDict_Type,
                          &spans, &observations)) {
        return NULL;
    }
    PyObject *items = PySequence_Fast(observations, "observations must be a sequence");
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject *counts = PyList_New(count);
    if (counts == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *observation = PySequence_Fast_GET_ITEM(items, i);
        if (!PyTuple_Check(observation) || PyTuple_GET_SIZE(observation) != 5) {
            PyErr_SetString(PyExc_TypeError,
                            "an observation is a (key, member, at, window_s, record) tuple");
            goto fail;
        }
        PyObject *key = PyTuple_GET_ITEM(observation, 0);
        PyObject *member = PyTuple_GET_ITEM(observation, 1);
        PyObject *at_object = PyTuple_GET_ITEM(observation, 2);
        PyObject *span_object = PyTuple_GET_ITEM(observation, 3);
        int record = PyObject_IsTrue(PyTuple_GET_ITEM(observation, 4));
        if (record < 0) {
            goto fail;
        }
        Py_ssize_t seen;
        PyObject *window = PyDict_GetItemWithError(windows, key); /* borrowed */
        if (window == NULL) {
            if (PyErr_Occurred()) {
                goto fail;
            }
            /* Most windows: a message alone in its window. */
            if (record) {
                PyObject *fresh = PyDict_New();
                if (fresh == NULL) {
                    goto fail;
                }
                int failed = PyDict_SetItem(fresh, member, at_object) ||
                             PyDict_SetItem(windows, key, fresh) ||
                             PyDict_SetItem(spans, key, span_object);
                Py_DECREF(fresh);
                if (failed) {
                    goto fail;
                }
            }
            seen = 1;
        }
        else {
            if (!PyDict_Check(window)) {
                PyErr_SetString(PyExc_TypeError, "a window must be a dict");
                goto fail;
            }
            double at = PyFloat_AsDouble(at_object);
            if (at == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
            double span = PyFloat_AsDouble(span_object);
            if (span == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
            Py_INCREF(window); /* kept alive while trimming */
            if (trim_window(window, at - span) < 0) {
                Py_DECREF(window);
                goto fail;
            }
            int present = PyDict_Contains(window, member);
            if (present < 0) {
                Py_DECREF(window);
                goto fail;
            }
            if (!record) {
                seen = PyDict_GET_SIZE(window) + !present;
            }
            else {
                /* Members are kept in the order they were last seen: move this one last. */
                if ((present && PyDict_DelItem(window, member) < 0) ||
                    PyDict_SetItem(window, member, at_object) < 0) {
                    Py_DECREF(window);
                    goto fail;
                }
                seen = PyDict_GET_SIZE(window);
            }
            Py_DECREF(window);
        }
        PyObject *number = PyLong_FromSsize_t(seen);
        if (number == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(counts, i, number);
    }
    Py_DECREF(items);
    return counts;
fail:
    Py_DECREF(items);
    Py_DECREF(counts);
    return NULL;
}

/* ---- KeyScanner: an Aho-Corasick automaton over ASCII keys, as a full transition table ---- */

typedef struct {
    PyObject_HEAD
    Py_ssize_t classes;   /* columns of the table: 0 for a character in no key */
    Py_ssize_t states;
    unsigned char class_of[128];
    int32_t *delta;       /* states x classes */
    int32_t *own;         /* per state: the first of its own keys in `keys_at`, or -1 */
    int32_t *own_count;
    int32_t *suffix;      /* per state: the nearest proper suffix state with keys, or -1 */
    int32_t *keys_at;     /* key indices, grouped by the state they end at */
    unsigned char *emits; /* per state: does a key end there (its own, or a suffix's)? */
} KeyScanner;

static void
scanner_dealloc(KeyScanner *self)
{
    PyMem_Free(self->delta);
    PyMem_Free(self->own);
    PyMem_Free(self->own_count);
    PyMem_Free(self->suffix);
    PyMem_Free(self->keys_at);
    PyMem_Free(self->emits);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* KeyScanner(keys): keys are non-empty ASCII strings without NUL. */
static int
scanner_init(KeyScanner *self, PyObject *args, PyObject *kwargs)
{
    PyObject *keys_in;
    static char *names[] = {"keys", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:KeyScanner", names, &keys_in)) {
        return -1;
    }
    PyObject *keys = PySequence_Fast(keys_in, "keys must be a sequence");
    if (keys == NULL) {
        return -1;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(keys), total = 1;
    memset(self->class_of, 0, sizeof(self->class_of));
    self->classes = 1;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, k);
        if (!PyUnicode_Check(key) || !PyUnicode_IS_ASCII(key) || PyUnicode_GET_LENGTH(key) == 0) {
            PyErr_SetString(PyExc_ValueError, "keys must be non-empty ASCII strings");
            Py_DECREF(keys);
            return -1;
        }
        const unsigned char *data = PyUnicode_1BYTE_DATA(key);
        for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(key); i++) {
            if (data[i] == 0) {
                PyErr_SetString(PyExc_ValueError, "keys must not hold NUL");
                Py_DECREF(keys);
                return -1;
            }
            if (self->class_of[data[i]] == 0) {
                self->class_of[data[i]] = (unsigned char)self->classes++;
            }
        }
        total += PyUnicode_GET_LENGTH(key);
    }
    Py_ssize_t classes = self->classes;
    int32_t *go = PyMem_Malloc((size_t)(total * classes) * sizeof(int32_t));
    int32_t *fail = PyMem_Malloc((size_t)total * sizeof(int32_t));
    int32_t *queue = PyMem_Malloc((size_t)total * sizeof(int32_t));
    int32_t *ends = PyMem_Malloc((size_t)(count + 1) * sizeof(int32_t));
    /* __init__ again: the earlier automaton goes */
    PyMem_Free(self->own);
    PyMem_Free(self->own_count);
    PyMem_Free(self->suffix);
    PyMem_Free(self->keys_at);
    PyMem_Free(self->delta);
    self->delta = NULL;
    self->own = PyMem_Calloc((size_t)total, sizeof(int32_t));
    self->own_count = PyMem_Calloc((size_t)total, sizeof(int32_t));
    self->suffix = PyMem_Malloc((size_t)total * sizeof(int32_t));
    self->keys_at = PyMem_Malloc((size_t)(count + 1) * sizeof(int32_t));
    if (!go || !fail || !queue || !ends || !self->own || !self->own_count || !self->suffix ||
        !self->keys_at) {
        PyMem_Free(go);
        PyMem_Free(fail);
        PyMem_Free(queue);
        PyMem_Free(ends);
        Py_DECREF(keys);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < total * classes; i++) {
        go[i] = -1;
    }
    /* The trie. */
    Py_ssize_t states = 1;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, k);
        const unsigned char *data = PyUnicode_1BYTE_DATA(key);
        int32_t state = 0;
        for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(key); i++) {
            Py_ssize_t cell = state * classes + self->class_of[data[i]];
            if (go[cell] < 0) {
                go[cell] = (int32_t)states++;
            }
            state = go[cell];
        }
        ends[k] = state;
        self->own_count[state]++;
    }
    Py_DECREF(keys);
    /* Each state's keys, grouped. */
    int32_t next = 0;
    for (Py_ssize_t s = 0; s < states; s++) {
        self->own[s] = self->own_count[s] ? next : -1;
        next += self->own_count[s];
        self->own_count[s] = 0;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        int32_t s = ends[k];
        self->keys_at[self->own[s] + self->own_count[s]++] = (int32_t)k;
    }
    PyMem_Free(ends);
    /* Failure links breadth first, turning the trie into the full transition table. */
    Py_ssize_t head = 0, tail = 0;
    fail[0] = 0;
    self->suffix[0] = -1;
    for (Py_ssize_t c = 0; c < classes; c++) {
        int32_t child = go[c];
        if (child < 0) {
            go[c] = 0;
        }
        else {
            fail[child] = 0;
            self->suffix[child] = -1;
            queue[tail++] = child;
        }
    }
    go[0] = 0; /* a character in no key always leads back to the root */
    while (head < tail) {
        int32_t state = queue[head++];
        for (Py_ssize_t c = 0; c < classes; c++) {
            Py_ssize_t cell = state * classes + c;
            int32_t child = go[cell];
            int32_t via = go[fail[state] * classes + c];
            if (child < 0 || c == 0) {
                go[cell] = c == 0 ? 0 : via;
                continue;
            }
            fail[child] = via;
            self->suffix[child] = self->own_count[via] ? via : self->suffix[via];
            queue[tail++] = child;
        }
    }
    PyMem_Free(fail);
    PyMem_Free(queue);
    PyMem_Free(self->emits);
    self->emits = PyMem_Malloc((size_t)states + 1);
    if (self->emits == NULL) {
        PyMem_Free(go);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t s = 0; s < states; s++) {
        self->emits[s] = self->own_count[s] > 0 || self->suffix[s] >= 0;
    }
    self->delta = go;
    self->states = states;
    return 0;
}

/* scan(joined) -> {text index: set of key indices} for the texts of `joined` (texts separated
 * by NUL) that hold a key. */
static PyObject *
scanner_scan(KeyScanner *self, PyObject *joined)
{
    if (!PyUnicode_Check(joined)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a str");
        return NULL;
    }
    if (self->delta == NULL) {
        PyErr_SetString(PyExc_ValueError, "KeyScanner is not initialized");
        return NULL;
    }
    PyObject *found = PyDict_New();
    if (found == NULL) {
        return NULL;
    }
    int kind = PyUnicode_KIND(joined);
    const void *data = PyUnicode_DATA(joined);
    const Py_UCS1 *bytes = kind == PyUnicode_1BYTE_KIND ? data : NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(joined), text = 0;
    const int32_t *delta = self->delta;
    const unsigned char *class_of = self->class_of, *emits = self->emits;
    Py_ssize_t classes = self->classes;
    int32_t state = 0;
    PyObject *keys = NULL; /* the set of the current text, once it has one (borrowed) */
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = bytes != NULL ? bytes[i] : PyUnicode_READ(kind, data, i);
        if (c == 0) {
            text++;
            state = 0;
            keys = NULL;
            continue;
        }
        state = delta[state * classes + (c < 128 ? class_of[c] : 0)];
        if (!emits[state]) { /* most characters end no key */
            continue;
        }
        for (int32_t s = self->own_count[state] ? state : self->suffix[state]; s >= 0;
             s = self->suffix[s]) {
            if (keys == NULL) {
                PyObject *index = PyLong_FromSsize_t(text);
                keys = index ? PySet_New(NULL) : NULL;
                if (keys == NULL || PyDict_SetItem(found, index, keys) < 0) {
                    Py_XDECREF(index);
                    Py_XDECREF(keys);
                    Py_DECREF(found);
                    return NULL;
                }
                Py_DECREF(index);
                Py_DECREF(keys); /* held by `found` */
            }
            for (int32_t j = 0; j < self->own_count[s]; j++) {
                PyObject *key = PyLong_FromLong(self->keys_at[self->own[s] + j]);
                if (key == NULL || PySet_Add(keys, key) < 0) {
                    Py_XDECREF(key);
                    Py_DECREF(found);
                    return NULL;
                }
                Py_DECREF(key);
            }
        }
    }
    return found;
}

static PyMethodDef scanner_methods[] = {
    {"scan", (PyCFunction)scanner_scan, METH_O,
     "{text index: set of key indices} for the texts of the NUL-joined string that hold a "
     "key."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KeyScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "chatguard.filter._speedups.KeyScanner",
    .tp_basicsize = sizeof(KeyScanner),
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An Aho-Corasick automaton over ASCII keys: which keys each text of a batch holds.",
    .tp_methods = scanner_methods,
    .tp_init = (initproc)scanner_init,
    .tp_new = PyType_GenericNew,
};

/* text_ends(texts) -> where each text of SEPARATOR.join(texts) ends, its separator included
 * (chatguard.filter.skeleton.text_ends_python). */
static PyObject *
text_ends(PyObject *module, PyObject *texts_in)
{
    (void)module;
    PyObject *texts = PySequence_Fast(texts_in, "texts must be a sequence");
    if (texts == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(texts), end = 0;
    PyObject *ends = PyList_New(count);
    for (Py_ssize_t i = 0; ends != NULL && i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(texts, i);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "text_ends() needs a sequence of str");
            Py_CLEAR(ends);
            break;
        }
        end += PyUnicode_GET_LENGTH(text) + 1;
        PyObject *number = PyLong_FromSsize_t(end);
        if (number == NULL) {
            Py_CLEAR(ends);
            break;
        }
        PyList_SET_ITEM(ends, i, number);
    }
    Py_DECREF(texts);
    return ends;
}

/* records(cls, columns) -> [cls(*row) for row in zip(*columns)] for a tuple subclass `cls` (a
 * named tuple), made as tuple.__new__ makes them, without calling the class. */
static PyObject *
records(PyObject *module, PyObject *args)
{
    (void)module;
    PyTypeObject *cls;
    PyObject *columns_in;
    if (!PyArg_ParseTuple(args, "O!O:records", &PyType_Type, &cls, &columns_in)) {
        return NULL;
    }
    if (!PyType_IsSubtype(cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "records() makes instances of a tuple subclass");
        return NULL;
    }
    PyObject *columns = PySequence_Fast(columns_in, "columns must be a sequence");
    if (columns == NULL) {
        return NULL;
    }
    Py_ssize_t width = PySequence_Fast_GET_SIZE(columns), count = -1;
    PyObject *result = NULL;
    PyObject **cells = PyMem_Calloc((size_t)width + 1, sizeof(PyObject *));
    if (cells == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < width; j++) {
        cells[j] = PySequence_Fast(PySequence_Fast_GET_ITEM(columns, j),
                                   "each column must be a sequence");
        if (cells[j] == NULL) {
            goto done;
        }
        Py_ssize_t size = PySequence_Fast_GET_SIZE(cells[j]);
        if (count >= 0 && size != count) {
            PyErr_SetString(PyExc_ValueError, "columns of different lengths");
            goto done;
        }
        count = size;
    }
    result = PyList_New(count < 0 ? 0 : count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *record = cls->tp_alloc(cls, width);
        if (record == NULL) {
            Py_CLEAR(result);
            break;
        }
        for (Py_ssize_t j = 0; j < width; j++) {
            PyObject *item = PySequence_Fast_GET_ITEM(cells[j], i);
            Py_INCREF(item);
            PyTuple_SET_ITEM(record, j, item);
        }
        PyList_SET_ITEM(result, i, record);
    }
done:
    if (cells != NULL) {
        for (Py_ssize_t j = 0; j < width; j++) {
            Py_XDECREF(cells[j]);
        }
        PyMem_Free(cells);
    }
    Py_DECREF(columns);
    return result;
}

static PyMethodDef methods[] = {
    {"token_counts", token_counts, METH_O,
     "(tokens, distinct tokens, copies of the most frequent token) of text.split(), for ASCII "
     "text; NotImplemented for other text."},
    {"distinct_words", (PyCFunction)(void (*)(void))distinct_words, METH_FASTCALL,
     "The distinct words of an ASCII text between the characters marked in a 256-byte table, "
     "sorted and joined by a space; None if it has none; NotImplemented for other text."},
    {"translate_tokens", (PyCFunction)(void (*)(void))translate_tokens, METH_FASTCALL,
     "The text with the tokens that hold a character of both needed classes mapped through a "
     "table, their edge characters kept (ASCII text; NotImplemented for other text)."},
    {"char_profile", char_profile, METH_VARARGS,
     "Per ASCII text, its characters counted by class and its longest run of one character "
     "(of the classes in `runs`); None for other text."},
    {"squeeze", (PyCFunction)(void (*)(void))squeeze, METH_VARARGS | METH_KEYWORDS,
     "Per text, its ASCII characters mapped through a table, runs (of the characters `only` "
     "marks, if given) cut to one, padded; with ascii_only, None for non-ASCII text."},
    {"observe_windows", observe_windows, METH_VARARGS,
     "Add each observation to its window and return the windows' member counts."},
    {"text_ends", text_ends, METH_O,
     "Where each text of the separator-joined texts ends, its separator included."},
    {"records", records, METH_VARARGS,
     "Instances of a named tuple class, one per row of the columns, made without calling it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "Generic text and counting kernels of the lightweight filter.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (int c = 0; c < 256; c++) {
        split_spaces[c] = (unsigned char)is_split_space((unsigned char)c);
    }
    if (PyType_Ready(&KeyScannerType) < 0) {
        return NULL;
    }
    PyObject *created = PyModule_Create(&module);
    if (created == NULL) {
        return NULL;
    }
    Py_INCREF(&KeyScannerType);
    if (PyModule_AddObject(created, "KeyScanner", (PyObject *)&KeyScannerType) < 0) {
        Py_DECREF(&KeyScannerType);
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
