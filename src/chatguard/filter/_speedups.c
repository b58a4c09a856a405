/* Compiled forms of the lightweight filter's hottest loops, each the exact twin of a Python function that is
 * used when this module is not built (see chatguard/filter/speedups.py):
 *
 *   word_key(collapsed)         -> chatguard.filter.spam.words_key_python, for ASCII text
 *                                  (NotImplemented for other text: the Python form handles it)
 *   token_counts(text)          -> chatguard.filter.spam.token_counts_python, likewise
 *   unleet_words(text, read)    -> chatguard.filter.skeleton.unleet_python, likewise
 *   observe_windows(windows, spans, observations)
 *                               -> chatguard.filter.state.InMemorySpamState._observe_all
 *
 * They run per message on the filter's hot path, where the interpreter's work per word and
 * per window update costs more than the operations themselves.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* str.split()'s whitespace, for ASCII text. */
static int
is_split_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
}

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

/* Sort words in str order: insertion sort for the few words of a chat message (no call per
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

/* The words of ASCII `data`: runs of characters that are neither str.split() whitespace nor,
 * with `digits_split`, digits. Returns the count, or -1 (memory error set); `*words` is
 * `on_stack` or memory to PyMem_Free. */
static Py_ssize_t
split_words(const char *data, Py_ssize_t length, int digits_split, Word *on_stack,
            Py_ssize_t capacity, Word **words)
{
    Py_ssize_t count = 0, index = 0;
    *words = on_stack;
    while (index < length) {
        unsigned char c = (unsigned char)data[index];
        if (is_split_space(c) || (digits_split && c >= '0' && c <= '9')) {
            index++;
            continue;
        }
        Py_ssize_t start = index;
        while (index < length) {
            c = (unsigned char)data[index];
            if (is_split_space(c) || (digits_split && c >= '0' && c <= '9')) {
                break;
            }
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
                                   PyUnicode_GET_LENGTH(text), 0, on_stack, 64, &words);
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

static PyObject *
word_key(PyObject *module, PyObject *text)
{
    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "word_key() needs a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    Word on_stack[64];
    Word *words;
    Py_ssize_t count = split_words((const char *)PyUnicode_1BYTE_DATA(text),
                                   PyUnicode_GET_LENGTH(text), 1, on_stack, 64, &words);
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
    /* Distinct words, joined by one space. */
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

static int
is_leet(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '@' || c == '$' || c == '+' || c == '!' || c == '|' ||
           c == '*';
}

/* unleet_words(text, read_word) -> text with each space-separated word that holds a leet
 * character replaced by read_word(word) (which keeps the length); words without one are left
 * as they are, as read_word would leave them. NotImplemented for non-ASCII text. */
static PyObject *
unleet_words(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *text, *read_word;
    if (!PyArg_ParseTuple(args, "UO:unleet_words", &text, &read_word)) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    const char *data = (const char *)PyUnicode_1BYTE_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    PyObject *result = NULL; /* made on the first word that reads differently */
    Py_ssize_t start = 0;
    while (start <= length) {
        Py_ssize_t end = start;
        int leet = 0;
        while (end < length && data[end] != ' ') {
            leet |= is_leet((unsigned char)data[end]);
            end++;
        }
        if (leet) {
            PyObject *word = PyUnicode_Substring(text, start, end);
            if (word == NULL) {
                goto fail;
            }
            PyObject *read = PyObject_CallOneArg(read_word, word);
            Py_DECREF(word);
            if (read == NULL) {
                goto fail;
            }
            if (!PyUnicode_Check(read) || PyUnicode_GET_LENGTH(read) != end - start ||
                !PyUnicode_IS_ASCII(read)) {
                Py_DECREF(read);
                PyErr_SetString(PyExc_ValueError, "a word's reading must keep its length");
                goto fail;
            }
            const char *reading = (const char *)PyUnicode_1BYTE_DATA(read);
            if (memcmp(reading, data + start, (size_t)(end - start)) != 0) {
                if (result == NULL) {
                    result = PyUnicode_New(length, 127);
                    if (result == NULL) {
                        Py_DECREF(read);
                        goto fail;
                    }
                    memcpy(PyUnicode_1BYTE_DATA(result), data, (size_t)length);
                }
                memcpy(PyUnicode_1BYTE_DATA(result) + start, reading, (size_t)(end - start));
            }
            Py_DECREF(read);
        }
        start = end + 1;
    }
    if (result == NULL) {
        Py_INCREF(text);
        return text;
    }
    return result;
fail:
    Py_XDECREF(result);
    return NULL;
}

static PyMethodDef methods[] = {
    {"unleet_words", unleet_words, METH_VARARGS,
     "The text with each word that holds a leet character read by read_word (ASCII text; "
     "NotImplemented for other text)."},
    {"word_key", word_key, METH_O,
     "The distinct words of an ASCII collapsed view, digits dropped, sorted and joined by a "
     "space; None if it has none; NotImplemented for non-ASCII text."},
    {"token_counts", token_counts, METH_O,
     "(tokens, distinct tokens, copies of the most frequent token) of text.split(), for ASCII "
     "text; NotImplemented for other text."},
    {"observe_windows", observe_windows, METH_VARARGS,
     "Add each observation to its window and return the windows' member counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "Compiled forms of the lightweight filter's hot loops.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
