/* Compiled forms of the lightweight filter's hottest loops, each the exact twin of a Python function that is
 * used when this module is not built (see chatguard/filter/speedups.py):
 *
 *   word_key(collapsed)         -> chatguard.filter.spam.words_key_python, for ASCII text
 *                                  (NotImplemented for other text: the Python form handles it)
 *   token_counts(text)          -> chatguard.filter.spam.token_counts_python, likewise
 *   unleet_words(text, read)    -> chatguard.filter.skeleton.unleet_python, likewise
 *   skeleton_views(texts, ...) -> chatguard.filter.skeleton.skeleton's views
 *   spam_screens(texts, ...)    -> chatguard.filter.spam.spam_screens_python, likewise
 *   plan_windows(items, ...)    -> chatguard.filter.spam.SpamDetector._plan_python's loop
 *   KeyScanner(keys).scan(joined) -> chatguard.filter.scanner's pyahocorasick form
 *   text_ends(texts)            -> chatguard.filter.skeleton.text_ends_python
 *   records(cls, columns)       -> [tuple.__new__(cls, row) for row in zip(*columns)]
 *   observe_windows(windows, spans, observations)
 *                               -> chatguard.filter.state.InMemorySpamState._observe_all
 *
 * They run per message on the filter's hot path, where the interpreter's work per word and
 * per window update costs more than the operations themselves.
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

/* Flags of the character table `skeleton_views` takes; chatguard/filter/skeleton.py builds it
 * from its own regular expressions, so the two forms cannot disagree on a character. */
#define CH_LONE 1     /* a letter of a spaced-out word, "f u c k" */
#define CH_SPACING 2  /* spacing between such letters */
#define CH_TOKEN 4    /* a character of a leetspeak token */
#define CH_LEET 8     /* a leet character */
#define CH_LETTER 16  /* a plain letter */
#define CH_EDGE 32    /* punctuation at a token's edge ("gg!", "!command") */
#define CH_VOWEL 64   /* a vowel (plain or disguised) for the vowel-blind view */

/* Does the text hold two lone letters separated by spacing ("f u", "a.b")? Such text may hold
 * a spaced-out word to join, which the Python form does. */
static int
may_hold_spaced_letters(const unsigned char *data, Py_ssize_t length, const unsigned char *flags)
{
    for (Py_ssize_t i = 0; i < length; i++) {
        if (!(flags[data[i]] & CH_LONE) || (i > 0 && (flags[data[i - 1]] & CH_LONE))) {
            continue;
        }
        Py_ssize_t j = i + 1;
        while (j < length && (flags[data[j]] & (CH_SPACING | CH_LONE)) == CH_SPACING) {
            j++;
        }
        if (j > i + 1 && j < length && (flags[data[j]] & CH_LONE) &&
            (j + 1 == length || !(flags[data[j + 1]] & CH_LONE))) {
            return 1;
        }
    }
    return 0;
}

/* Read the leetspeak of `buffer` in place: each run of token characters holding a leet
 * character and a letter is read through `leet_map`, its edge punctuation left as it is. */
static void
read_leetspeak(unsigned char *buffer, Py_ssize_t length, const unsigned char *flags,
               const unsigned char *leet_map)
{
    Py_ssize_t index = 0;
    while (index < length) {
        if (!(flags[buffer[index]] & CH_TOKEN)) {
            index++;
            continue;
        }
        Py_ssize_t start = index;
        int seen = 0;
        while (index < length && (flags[buffer[index]] & CH_TOKEN)) {
            seen |= flags[buffer[index]];
            index++;
        }
        if (!(seen & CH_LEET) || !(seen & CH_LETTER)) {
            continue; /* no leet character, or a number or price: not a disguised word */
        }
        Py_ssize_t head = start, tail = index;
        while (head < tail && (flags[buffer[head]] & CH_EDGE)) {
            head++;
        }
        while (tail > head && (flags[buffer[tail - 1]] & CH_EDGE)) {
            tail--;
        }
        for (Py_ssize_t i = head; i < tail; i++) {
            buffer[i] = leet_map[buffer[i]];
        }
    }
}

/* The (spaced, collapsed, plain, None) views of one ASCII text, or None for text that may hold
 * spaced-out letters. */
static PyObject *
ascii_views(PyObject *text, const unsigned char *flags, const unsigned char *leet_map,
            const unsigned char *word_map)
{
    const unsigned char *data = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (may_hold_spaced_letters(data, length, flags)) {
        return Py_None; /* borrowed: the caller builds the views the general way instead */
    }
    PyObject *spaced = PyUnicode_New(length, 127);
    if (spaced == NULL) {
        return NULL;
    }
    unsigned char *out = PyUnicode_1BYTE_DATA(spaced);
    memcpy(out, data, (size_t)length);
    read_leetspeak(out, length, flags, leet_map);
    /* The collapsed views, a space at either end, runs cut to one: with vowels blinded
     * (collapsed) and as they are (plain). */
    unsigned char on_stack[1024];
    unsigned char *blind = 2 * (length + 2) <= (Py_ssize_t)sizeof(on_stack)
                               ? on_stack
                               : PyMem_Malloc(2 * ((size_t)length + 2));
    if (blind == NULL) {
        Py_DECREF(spaced);
        return PyErr_NoMemory();
    }
    unsigned char *plain = blind + length + 2;
    Py_ssize_t kept = 0, plain_kept = 0;
    blind[kept++] = ' ';
    plain[plain_kept++] = ' ';
    int previous = -1, plain_previous = -1;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char c = word_map[out[i]];
        out[i] = c;
        unsigned char b = (flags[c] & CH_VOWEL) ? 'a' : c;
        if (b != previous) {
            blind[kept++] = b;
            previous = b;
        }
        if (c != plain_previous) {
            plain[plain_kept++] = c;
            plain_previous = c;
        }
    }
    blind[kept++] = ' ';
    plain[plain_kept++] = ' ';
    PyObject *collapsed = PyUnicode_New(kept, 127);
    PyObject *plain_view = collapsed ? PyUnicode_New(plain_kept, 127) : NULL;
    if (plain_view != NULL) {
        memcpy(PyUnicode_1BYTE_DATA(collapsed), blind, (size_t)kept);
        memcpy(PyUnicode_1BYTE_DATA(plain_view), plain, (size_t)plain_kept);
    }
    if (blind != on_stack) {
        PyMem_Free(blind);
    }
    if (plain_view == NULL) {
        Py_DECREF(spaced);
        Py_XDECREF(collapsed);
        return NULL;
    }
    PyObject *views = PyTuple_New(4);
    if (views == NULL) {
        Py_DECREF(spaced);
        Py_DECREF(collapsed);
        Py_DECREF(plain_view);
        return NULL;
    }
    PyTuple_SET_ITEM(views, 0, spaced);
    PyTuple_SET_ITEM(views, 1, collapsed);
    PyTuple_SET_ITEM(views, 2, plain_view);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(views, 3, Py_None);
    return views;
}

/* The class of a character in the generic path: the table for ASCII, none of the ASCII-only
 * classes beyond it (spacing: any Unicode white space, as the regex's "\s"). */
static unsigned char
flags_of(Py_UCS4 c, const unsigned char *flags)
{
    if (c < 128) {
        return flags[c];
    }
    return Py_UNICODE_ISSPACE(c) ? CH_SPACING : 0;
}

/* Join spaced-out letters ("f u c k" -> "fuck") as chatguard.filter.skeleton._join_spaced
 * does: runs of three or more lone letters separated by spacing lose their spacing. Writes the
 * kept characters to `out` and their offsets to `origin`; returns the count kept. */
static Py_ssize_t
join_spaced(const Py_UCS4 *text, Py_ssize_t length, const unsigned char *flags, Py_UCS4 *out,
            Py_ssize_t *origin)
{
    Py_ssize_t kept = 0, i = 0;
    while (i < length) {
        int lone = (flags_of(text[i], flags) & CH_LONE) &&
                   (i == 0 || !(flags_of(text[i - 1], flags) & CH_LONE));
        Py_ssize_t end = i + 1, groups = 0;
        while (lone) {
            Py_ssize_t k = end;
            while (k < length && (flags_of(text[k], flags) & (CH_SPACING | CH_LONE)) == CH_SPACING) {
                k++;
            }
            if (k == end || k >= length || !(flags_of(text[k], flags) & CH_LONE) ||
                (k + 1 < length && (flags_of(text[k + 1], flags) & CH_LONE))) {
                break;
            }
            groups++;
            end = k + 1;
        }
        if (groups >= 2) { /* a run: its letters only */
            for (Py_ssize_t j = i; j < end; j++) {
                if (flags_of(text[j], flags) & CH_LONE) {
                    out[kept] = text[j];
                    origin[kept++] = j;
                }
            }
            i = end;
            continue;
        }
        out[kept] = text[i];
        origin[kept++] = i;
        i++;
    }
    return kept;
}

/* The views of any text, in the general way: spaced-out letters joined (with the offset map),
 * leetspeak read, every character that is not a letter or digit made a space, the collapsed
 * and plain views. */
static PyObject *
general_views(PyObject *text, const unsigned char *flags, const unsigned char *leet_map,
              const unsigned char *word_map)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *source = PyUnicode_AsUCS4Copy(text);
    if (source == NULL) {
        return NULL;
    }
    Py_UCS4 *work = PyMem_Malloc(((size_t)length * 3 + 4) * sizeof(Py_UCS4));
    Py_ssize_t *origin = PyMem_Malloc(((size_t)length + 1) * sizeof(Py_ssize_t));
    PyObject *views = NULL, *spaced = NULL, *collapsed = NULL, *plain = NULL, *map = NULL;
    if (work == NULL || origin == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t kept = join_spaced(source, length, flags, work, origin);
    /* Leetspeak, in place: runs of token characters holding a leet character and a letter. */
    Py_ssize_t index = 0;
    while (index < kept) {
        if (!(flags_of(work[index], flags) & CH_TOKEN)) {
            index++;
            continue;
        }
        Py_ssize_t start = index;
        int seen = 0;
        while (index < kept && (flags_of(work[index], flags) & CH_TOKEN)) {
            seen |= flags_of(work[index], flags);
            index++;
        }
        if (!(seen & CH_LEET) || !(seen & CH_LETTER)) {
            continue;
        }
        Py_ssize_t head = start, tail = index;
        while (head < tail && (flags_of(work[head], flags) & CH_EDGE)) {
            head++;
        }
        while (tail > head && (flags_of(work[tail - 1], flags) & CH_EDGE)) {
            tail--;
        }
        for (Py_ssize_t i = head; i < tail; i++) {
            work[i] = leet_map[work[i]]; /* token characters are ASCII */
        }
    }
    Py_UCS4 *blind = work + kept, *flat = work + 2 * kept + 2;
    Py_ssize_t blind_kept = 0, flat_kept = 0;
    blind[blind_kept++] = ' ';
    flat[flat_kept++] = ' ';
    Py_UCS4 previous = 0x110000, flat_previous = 0x110000;
    for (Py_ssize_t i = 0; i < kept; i++) {
        Py_UCS4 c = work[i];
        c = c < 128 ? word_map[c] : (Py_UNICODE_ISALNUM(c) ? c : ' ');
        work[i] = c;
        Py_UCS4 b = (c < 128 && (flags[c] & CH_VOWEL)) ? 'a' : c;
        if (b != previous) {
            blind[blind_kept++] = b;
            previous = b;
        }
        if (c != flat_previous) {
            flat[flat_kept++] = c;
            flat_previous = c;
        }
    }
    blind[blind_kept++] = ' ';
    flat[flat_kept++] = ' ';
    spaced = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, work, kept);
    collapsed = spaced ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, blind, blind_kept) : NULL;
    plain = collapsed ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, flat, flat_kept) : NULL;
    if (plain == NULL) {
        goto done;
    }
    if (kept == length) {
        Py_INCREF(Py_None);
        map = Py_None; /* nothing was joined: the offsets are the identity */
    }
    else {
        map = PyTuple_New(kept);
        for (Py_ssize_t i = 0; map != NULL && i < kept; i++) {
            PyObject *offset = PyLong_FromSsize_t(origin[i]);
            if (offset == NULL) {
                Py_CLEAR(map);
                break;
            }
            PyTuple_SET_ITEM(map, i, offset);
        }
        if (map == NULL) {
            goto done;
        }
    }
    views = PyTuple_Pack(4, spaced, collapsed, plain, map);
done:
    PyMem_Free(source);
    PyMem_Free(work);
    PyMem_Free(origin);
    Py_XDECREF(spaced);
    Py_XDECREF(collapsed);
    Py_XDECREF(plain);
    Py_XDECREF(map);
    return views;
}

/* skeleton_views(texts, flags, leet_map, word_map) -> the texts' (spaced, collapsed, plain,
 * to_folded) views, as four lists: ASCII text without spaced-out letters the fast way, the
 * rest the general way. */
static PyObject *
skeleton_views(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *texts;
    Py_buffer flags, leet_map, word_map;
    if (!PyArg_ParseTuple(args, "Oy*y*y*:skeleton_views", &texts, &flags, &leet_map,
                          &word_map)) {
        return NULL;
    }
    PyObject *result = NULL, *items = NULL;
    if (flags.len != 256 || leet_map.len != 256 || word_map.len != 256) {
        PyErr_SetString(PyExc_ValueError, "the character tables must be 256 bytes long");
        goto done;
    }
    items = PySequence_Fast(texts, "texts must be a sequence");
    if (items == NULL) {
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    result = PyTuple_New(4);
    for (int j = 0; result != NULL && j < 4; j++) {
        PyObject *column = PyList_New(count);
        if (column == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, j, column);
    }
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(items, i);
        PyObject *views;
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "skeleton_views() needs a sequence of str");
            Py_CLEAR(result);
            goto done;
        }
        views = PyUnicode_IS_ASCII(text) ? ascii_views(text, flags.buf, leet_map.buf, word_map.buf)
                                         : Py_None;
        if (views == Py_None) { /* other text, or text that may hold spaced-out letters */
            views = general_views(text, flags.buf, leet_map.buf, word_map.buf);
        }
        if (views == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        for (int j = 0; j < 4; j++) {
            PyObject *view = PyTuple_GET_ITEM(views, j);
            Py_INCREF(view);
            PyList_SET_ITEM(PyTuple_GET_ITEM(result, j), i, view);
        }
        Py_DECREF(views);
    }
done:
    Py_XDECREF(items);
    PyBuffer_Release(&flags);
    PyBuffer_Release(&leet_map);
    PyBuffer_Release(&word_map);
    return result;
}

/* The bits of `spam_screens`: which of the spam detector's per-text checks may find something
 * (see chatguard/filter/spam.py, `spam_screens_python`, for their exact meaning). */
#define SPAM_CAPS 1
#define SPAM_FLOOD 2
#define SPAM_EMOTES 4
#define SPAM_LINK 8
#define SPAM_MENTIONS 16

/* Character classes of `spam_bits`, one table lookup a character. */
enum { K_OTHER, K_UPPER, K_LOWER, K_SPACE, K_BLANK, K_AT, K_DOT, K_COLON, K_DIGIT, K_COUNT };
static unsigned char spam_kind[256];

static void
init_spam_kinds(void)
{
    for (int c = 0; c < 256; c++) {
        spam_kind[c] = c >= 'A' && c <= 'Z'   ? K_UPPER
                       : c >= 'a' && c <= 'z' ? K_LOWER
                       : c >= '0' && c <= '9' ? K_DIGIT
                       : c == ' '             ? K_SPACE
                       : is_split_space((unsigned char)c) ? K_BLANK
                       : c == '@'             ? K_AT
                       : c == '.'             ? K_DOT
                       : c == ':'             ? K_COLON
                                              : K_OTHER;
    }
}

/* Does the text hold what chatguard.filter.spam._MAY_HOLD_LINK finds: a letter, digit or '-'
 * then '.' then a letter, or "://"? */
static int
may_hold_link(const unsigned char *data, Py_ssize_t length)
{
    for (Py_ssize_t i = 0; i + 1 < length; i++) {
        if (data[i] == '.' && i > 0) {
            unsigned char before = spam_kind[data[i - 1]], after = spam_kind[data[i + 1]];
            if ((before == K_UPPER || before == K_LOWER || before == K_DIGIT ||
                 data[i - 1] == '-') &&
                (after == K_UPPER || after == K_LOWER)) {
                return 1;
            }
        }
        else if (data[i] == ':' && i + 2 < length && data[i + 1] == '/' && data[i + 2] == '/') {
            return 1;
        }
    }
    return 0;
}

/* Is one word of the text repeated as an emote flood is (see chatguard.filter.spam._emotes)? */
static int
is_emote_flood(const unsigned char *data, Py_ssize_t length, Py_ssize_t token_repeat,
               double distinct_max, double top_min)
{
    Word on_stack[64];
    Word *words;
    Py_ssize_t count = split_words((const char *)data, length, 0, on_stack, 64, &words);
    if (count < 0) {
        return -1;
    }
    int flood = 0;
    if (count >= token_repeat) {
        /* A word making up `top_min` (over half) of the words is the majority: found in one
         * pass (Boyer-Moore), and counted in another, before anything is sorted. */
        Py_ssize_t candidate = 0, votes = 0, copies = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (votes == 0) {
                candidate = i;
                votes = 1;
            }
            else {
                votes += compare_words(&words[candidate], &words[i]) == 0 ? 1 : -1;
            }
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            copies += compare_words(&words[candidate], &words[i]) == 0;
        }
        if (copies >= token_repeat && copies >= top_min * count) {
            sort_words(words, count);
            Py_ssize_t distinct = 1, run = 1, top = 1;
            for (Py_ssize_t i = 1; i < count; i++) {
                if (compare_words(&words[i - 1], &words[i]) == 0) {
                    run++;
                }
                else {
                    distinct++;
                    run = 1;
                }
                top = run > top ? run : top;
            }
            flood = !(distinct > distinct_max * count) && top >= token_repeat &&
                    top >= top_min * count;
        }
    }
    if (words != on_stack) {
        PyMem_Free(words);
    }
    return flood;
}

/* The check bits of one ASCII text (see SPAM_*), or -1 (memory error set). */
static long
spam_bits(const unsigned char *data, Py_ssize_t length, Py_ssize_t caps_min, double caps_ratio,
          Py_ssize_t char_run, Py_ssize_t token_repeat, double emote_distinct_max,
          double emote_top_min, Py_ssize_t mention_max)
{
    Py_ssize_t counts[K_COUNT] = {0};
    Py_ssize_t run = 0, longest = 0;
    int previous = -1;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char c = data[i];
        unsigned char kind = spam_kind[c];
        counts[kind]++;
        run = c == previous ? run + 1 : 1;
        previous = c;
        if (run > longest && kind != K_SPACE && kind != K_BLANK) {
            longest = run;
        }
    }
    long bits = 0;
    Py_ssize_t upper = counts[K_UPPER], letters = counts[K_UPPER] + counts[K_LOWER];
    if (length >= caps_min && upper >= caps_min && letters > 0 &&
        (double)upper / (double)letters >= caps_ratio) {
        bits |= SPAM_CAPS;
    }
    if (longest >= char_run) {
        bits |= SPAM_FLOOD;
    }
    if (counts[K_SPACE] + 1 >= token_repeat) {
        int flood = is_emote_flood(data, length, token_repeat, emote_distinct_max, emote_top_min);
        if (flood < 0) {
            return -1;
        }
        bits |= flood ? SPAM_EMOTES : 0;
    }
    if (counts[K_DOT] && may_hold_link(data, length)) {
        bits |= SPAM_LINK;
    }
    if (counts[K_AT] > mention_max) {
        bits |= SPAM_MENTIONS;
    }
    return bits;
}

/* spam_screens(texts, collapsed, caps_min, caps_ratio, char_run, token_repeat,
 *              emote_distinct_max, emote_top_min, mention_max)
 * -> per text, (check bits, word key of its collapsed view) for ASCII text, None for other
 * text (the Python form handles it). */
static PyObject *
spam_screens(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *texts, *views;
    Py_ssize_t caps_min, char_run, token_repeat, mention_max;
    double caps_ratio, emote_distinct_max, emote_top_min;
    if (!PyArg_ParseTuple(args, "OOndnnddn:spam_screens", &texts, &views, &caps_min, &caps_ratio,
                          &char_run, &token_repeat, &emote_distinct_max, &emote_top_min,
                          &mention_max)) {
        return NULL;
    }
    PyObject *text_items = PySequence_Fast(texts, "texts must be a sequence");
    if (text_items == NULL) {
        return NULL;
    }
    PyObject *view_items = PySequence_Fast(views, "collapsed views must be a sequence");
    if (view_items == NULL) {
        Py_DECREF(text_items);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(text_items);
    if (PySequence_Fast_GET_SIZE(view_items) != count) {
        PyErr_SetString(PyExc_ValueError, "one collapsed view per text");
        goto done;
    }
    result = PyList_New(count);
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(text_items, i);
        PyObject *view = PySequence_Fast_GET_ITEM(view_items, i);
        if (!PyUnicode_Check(text) || !PyUnicode_Check(view)) {
            PyErr_SetString(PyExc_TypeError, "spam_screens() needs texts and views of str");
            Py_CLEAR(result);
            goto done;
        }
        PyObject *screened;
        if (!PyUnicode_IS_ASCII(text) || !PyUnicode_IS_ASCII(view)) {
            Py_INCREF(Py_None);
            screened = Py_None;
        }
        else {
            long bits = spam_bits(PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text),
                                  caps_min, caps_ratio, char_run, token_repeat,
                                  emote_distinct_max, emote_top_min, mention_max);
            PyObject *key = bits < 0 ? NULL : word_key(NULL, view);
            if (key == NULL) {
                Py_CLEAR(result);
                goto done;
            }
            screened = Py_BuildValue("(lN)", bits, key);
            if (screened == NULL) {
                Py_CLEAR(result);
                goto done;
            }
        }
        PyList_SET_ITEM(result, i, screened);
    }
done:
    Py_DECREF(text_items);
    Py_DECREF(view_items);
    return result;
}

/* Attribute names `plan_windows` reads, interned once. */
static PyObject *attr_roles, *attr_text, *attr_channel_id, *attr_user_id, *attr_received_at,
    *attr_id, *attr_get;

/* `value` as an f-string shows it. */
static PyObject *
formatted(PyObject *value)
{
    if (PyUnicode_CheckExact(value)) {
        Py_INCREF(value);
        return value;
    }
    PyObject *empty = PyUnicode_New(0, 0);
    if (empty == NULL) {
        return NULL;
    }
    PyObject *shown = PyObject_Format(value, empty);
    Py_DECREF(empty);
    return shown;
}

/* "kind:part:part[:part]": a window key, as the f-strings of the Python form make it. */
static PyObject *
window_key(const char *kind, PyObject *a, PyObject *b, PyObject *c)
{
    PyObject *parts[3] = {a, b, c};
    int count = c == NULL ? 2 : 3;
    Py_ssize_t prefix = (Py_ssize_t)strlen(kind), length = prefix;
    Py_UCS4 widest = 127;
    for (int i = 0; i < count; i++) {
        length += 1 + PyUnicode_GET_LENGTH(parts[i]);
        Py_UCS4 most = PyUnicode_MAX_CHAR_VALUE(parts[i]);
        widest = most > widest ? most : widest;
    }
    PyObject *key = PyUnicode_New(length, widest);
    if (key == NULL) {
        return NULL;
    }
    int key_kind = PyUnicode_KIND(key);
    void *data = PyUnicode_DATA(key);
    Py_ssize_t at = 0;
    for (; at < prefix; at++) {
        PyUnicode_WRITE(key_kind, data, at, (Py_UCS4)(unsigned char)kind[at]);
    }
    for (int i = 0; i < count; i++) {
        PyUnicode_WRITE(key_kind, data, at++, ':');
        Py_ssize_t size = PyUnicode_GET_LENGTH(parts[i]);
        if (PyUnicode_KIND(parts[i]) == key_kind) {
            memcpy((char *)data + at * key_kind, PyUnicode_DATA(parts[i]), (size_t)(size * key_kind));
        }
        else if (PyUnicode_CopyCharacters(key, at, parts[i], 0, size) < 0) {
            Py_DECREF(key);
            return NULL;
        }
        at += size;
    }
    return key;
}

/* Is any role of `roles` in `exempt`? -1 on error. */
static int
is_exempt(PyObject *roles, PyObject *exempt)
{
    int some = PyObject_IsTrue(roles);
    if (some <= 0) {
        return some;
    }
    PyObject *iterator = PyObject_GetIter(roles);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *role;
    int found = 0;
    while (!found && (role = PyIter_Next(iterator)) != NULL) {
        found = PySequence_Contains(exempt, role);
        Py_DECREF(role);
    }
    Py_DECREF(iterator);
    if (found < 0 || PyErr_Occurred()) {
        return -1;
    }
    return found;
}

/* Append the observation (key, member, at, window_s, record) and its owner. Steals `key`. */
static int
observe_one(PyObject *observations, PyObject *owners, PyObject *owner, PyObject *key,
            PyObject *member, PyObject *at, PyObject *window_s, PyObject *record)
{
    if (key == NULL) {
        return -1;
    }
    PyObject *observation = PyTuple_Pack(5, key, member, at, window_s, record);
    Py_DECREF(key);
    if (observation == NULL) {
        return -1;
    }
    int failed = PyList_Append(observations, observation) || PyList_Append(owners, owner);
    Py_DECREF(observation);
    return failed ? -1 : 0;
}

/* The findings, link count, fingerprint and raid flag of a message's text: from `checked`, else
 * from its screen (clean text) or `check(item, screened)`, then remembered in `checked`. Returns
 * a borrowed reference held by `checked`, or NULL. */
static PyObject *
text_findings(PyObject *item, PyObject *text, PyObject *screened, PyObject *checked,
              PyObject *check, Py_ssize_t raid_min, Py_ssize_t checked_max)
{
    PyObject *seen = PyDict_GetItemWithError(checked, text);
    if (seen != NULL || PyErr_Occurred()) {
        return seen;
    }
    PyObject *spans, *links, *words;
    if (screened != Py_None && PyTuple_Check(screened) && PyTuple_GET_SIZE(screened) == 2 &&
        PyLong_Check(PyTuple_GET_ITEM(screened, 0)) &&
        PyLong_AsLong(PyTuple_GET_ITEM(screened, 0)) == 0 &&
        PyUnicode_Check(PyTuple_GET_ITEM(screened, 1))) {
        /* Most chat: no check finds anything, and the text has words. */
        spans = PyTuple_New(0);
        links = PyLong_FromLong(0);
        words = PyTuple_GET_ITEM(screened, 1);
        Py_INCREF(words);
    }
    else {
        PyObject *found = PyObject_CallFunctionObjArgs(check, item, screened, NULL);
        if (found == NULL) {
            return NULL;
        }
        if (!PyTuple_Check(found) || PyTuple_GET_SIZE(found) != 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(found, 2))) {
            Py_DECREF(found);
            PyErr_SetString(PyExc_TypeError, "check() must return (spans, links, words)");
            return NULL;
        }
        spans = PyTuple_GET_ITEM(found, 0);
        links = PyTuple_GET_ITEM(found, 1);
        words = PyTuple_GET_ITEM(found, 2);
        Py_INCREF(spans);
        Py_INCREF(links);
        Py_INCREF(words);
        Py_DECREF(found);
    }
    if (spans == NULL || links == NULL) {
        Py_XDECREF(spans);
        Py_XDECREF(links);
        Py_DECREF(words);
        return NULL;
    }
    PyObject *raid = PyUnicode_GET_LENGTH(words) >= raid_min ? Py_True : Py_False;
    seen = PyTuple_Pack(4, spans, links, words, raid);
    Py_DECREF(spans);
    Py_DECREF(links);
    Py_DECREF(words);
    if (seen == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(checked) >= checked_max) {
        PyDict_Clear(checked);
    }
    int failed = PyDict_SetItem(checked, text, seen);
    Py_DECREF(seen);
    return failed ? NULL : seen;
}

/* plan_windows(items, screens, checked, check, exempt, stateless_key, rate_s, repeat_s, raid_s,
 *              link_s, raid_min, checked_max)
 * -> (spans per message, observations, the message of each observation): the loop of
 * chatguard.filter.spam.SpamDetector._plan_python. */
static PyObject *
plan_windows(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *items_in, *screens_in, *checked, *check, *exempt, *stateless_key;
    PyObject *rate_s, *repeat_s, *raid_s, *link_s;
    Py_ssize_t raid_min, checked_max;
    if (!PyArg_ParseTuple(args, "OOO!OOOOOOOnn:plan_windows", &items_in, &screens_in,
                          &PyDict_Type, &checked, &check, &exempt, &stateless_key, &rate_s,
                          &repeat_s, &raid_s, &link_s, &raid_min, &checked_max)) {
        return NULL;
    }
    PyObject *items = PySequence_Fast(items_in, "items must be a sequence");
    PyObject *screens = items ? PySequence_Fast(screens_in, "screens must be a sequence") : NULL;
    PyObject *spans_of = PyList_New(0), *observations = PyList_New(0), *owners = PyList_New(0);
    PyObject *result = NULL;
    if (screens == NULL || spans_of == NULL || observations == NULL || owners == NULL) {
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    if (PySequence_Fast_GET_SIZE(screens) != count) {
        PyErr_SetString(PyExc_ValueError, "one screen per item");
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(items, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 4) {
            PyErr_SetString(PyExc_TypeError, "an item is a FilterInput");
            goto done;
        }
        PyObject *message = PyTuple_GET_ITEM(item, 0);
        PyObject *context = PyTuple_GET_ITEM(item, 3);
        PyObject *roles = PyObject_GetAttr(message, attr_roles);
        if (roles == NULL) {
            goto done;
        }
        int exempted = is_exempt(roles, exempt);
        Py_DECREF(roles);
        if (exempted < 0) {
            goto done;
        }
        if (exempted) {
            PyObject *none = PyTuple_New(0);
            if (none == NULL || PyList_Append(spans_of, none) < 0) {
                Py_XDECREF(none);
                goto done;
            }
            Py_DECREF(none);
            continue;
        }
        PyObject *text = PyObject_GetAttr(message, attr_text);
        if (text == NULL) {
            goto done;
        }
        PyObject *seen = text_findings(item, text, PySequence_Fast_GET_ITEM(screens, i), checked,
                                       check, raid_min, checked_max);
        Py_DECREF(text);
        if (seen == NULL) {
            goto done;
        }
        Py_INCREF(seen); /* the cache may be cleared by a later message */
        PyObject *print = PyTuple_GET_ITEM(seen, 2);
        int links = PyObject_IsTrue(PyTuple_GET_ITEM(seen, 1));
        int raid = PyObject_IsTrue(PyTuple_GET_ITEM(seen, 3));
        int record = 1;
        int has_context = PyObject_IsTrue(context);
        if (links < 0 || raid < 0 || has_context < 0 ||
            PyList_Append(spans_of, PyTuple_GET_ITEM(seen, 0)) < 0) {
            Py_DECREF(seen);
            goto done;
        }
        if (has_context) {
            PyObject *flag = PyObject_CallMethodObjArgs(context, attr_get, stateless_key,
                                                        Py_False, NULL);
            record = flag == NULL ? -1 : !PyObject_IsTrue(flag);
            Py_XDECREF(flag);
            if (record < 0 || PyErr_Occurred()) {
                Py_DECREF(seen);
                goto done;
            }
        }
        PyObject *channel_raw = PyObject_GetAttr(message, attr_channel_id);
        PyObject *user_raw = channel_raw ? PyObject_GetAttr(message, attr_user_id) : NULL;
        PyObject *at = user_raw ? PyObject_GetAttr(message, attr_received_at) : NULL;
        PyObject *member = at ? PyObject_GetAttr(message, attr_id) : NULL;
        PyObject *channel = member ? formatted(channel_raw) : NULL;
        PyObject *user = channel ? formatted(user_raw) : NULL;
        PyObject *owner = user ? PyLong_FromSsize_t(i) : NULL;
        PyObject *flag = record ? Py_True : Py_False;
        int failed =
            owner == NULL ||
            observe_one(observations, owners, owner,
                        window_key("rate", channel, user, NULL), member, at, rate_s,
                        flag) < 0 ||
            observe_one(observations, owners, owner,
                        window_key("repeat", channel, user, print), member,
                        at, repeat_s, flag) < 0 ||
            (raid && observe_one(observations, owners, owner,
                                 window_key("raid", channel, print, NULL), user_raw,
                                 at, raid_s, flag) < 0) ||
            (links && observe_one(observations, owners, owner,
                                  window_key("link", channel, user, NULL), member, at,
                                  link_s, flag) < 0);
        Py_DECREF(seen);
        Py_XDECREF(channel_raw);
        Py_XDECREF(user_raw);
        Py_XDECREF(at);
        Py_XDECREF(member);
        Py_XDECREF(channel);
        Py_XDECREF(user);
        Py_XDECREF(owner);
        if (failed) {
            goto done;
        }
    }
    result = PyTuple_Pack(3, spans_of, observations, owners);
done:
    Py_XDECREF(items);
    Py_XDECREF(screens);
    Py_XDECREF(spans_of);
    Py_XDECREF(observations);
    Py_XDECREF(owners);
    return result;
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
    {"unleet_words", unleet_words, METH_VARARGS,
     "The text with each word that holds a leet character read by read_word (ASCII text; "
     "NotImplemented for other text)."},
    {"skeleton_views", skeleton_views, METH_VARARGS,
     "The texts' spaced, collapsed, plain and to_folded matching views, as four lists."},
    {"spam_screens", spam_screens, METH_VARARGS,
     "Per ASCII text, (the spam checks that may find something, as bits; the word key of its "
     "collapsed view); None for other text."},
    {"plan_windows", plan_windows, METH_VARARGS,
     "Per message, its spam findings, and the window observations of the batch with the "
     "message of each."},
    {"text_ends", text_ends, METH_O,
     "Where each text of the separator-joined texts ends, its separator included."},
    {"records", records, METH_VARARGS,
     "Instances of a named tuple class, one per row of the columns, made without calling it."},
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
    init_spam_kinds();
    attr_roles = PyUnicode_InternFromString("roles");
    attr_text = PyUnicode_InternFromString("text");
    attr_channel_id = PyUnicode_InternFromString("channel_id");
    attr_user_id = PyUnicode_InternFromString("user_id");
    attr_received_at = PyUnicode_InternFromString("received_at");
    attr_id = PyUnicode_InternFromString("id");
    attr_get = PyUnicode_InternFromString("get");
    if (!attr_roles || !attr_text || !attr_channel_id || !attr_user_id || !attr_received_at ||
        !attr_id || !attr_get) {
        return NULL;
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
