/* Optional accelerator for text.py and skills.py, for ASCII text (the pure-Python code is the
 * fallback and the reference; tests compare the two).
 *
 * Where skills.py's alias pattern matches:
 * Scanner(keys, blocked_next).spans(text) returns the (start, end) of every alias match, exactly
 * the spans of group 1 of skills.py's ASCII pattern, found by the same rules: an alias starts
 * after a character that is not [a-z0-9_#@$] (and not a "." after [a-z0-9_]); a space in a key
 * matches any run of whitespace; the longest key that is not followed by [A-Za-z0-9_+#], by "."
 * and a word character, or by whitespace and a blocked word wins; scanning resumes at its end.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_KEY 255

typedef struct {
    PyObject_HEAD
    int nslots;            /* distinct key characters, plus slot 0 for "none" */
    uint8_t slot[128];     /* character -> slot; ' ' stands for any whitespace run */
    Py_ssize_t nnodes;
    uint16_t *child;       /* nnodes x nslots: child node, 0 for none (node 0 is the root) */
    uint8_t *terminal;     /* nnodes: a key ends here */
    PyObject *blocked;     /* tuple of ASCII str: words that block an alias when they follow it */
} Scanner;

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }
static int is_lower_word(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
static int is_word(unsigned char c) { return is_lower_word(c) || (c >= 'A' && c <= 'Z'); }

/* The characters of an ASCII str, or NULL with ValueError set. */
static const unsigned char *ascii_chars(PyObject *text, const char *function) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_Check(text) && PyUnicode_READY(text) < 0) {
        return NULL;
    }
#endif
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
        PyErr_Format(PyExc_ValueError, "%s() takes ASCII text", function);
        return NULL;
    }
    return PyUnicode_1BYTE_DATA(text);
}

static void Scanner_dealloc(Scanner *self) {
    PyMem_Free(self->child);
    PyMem_Free(self->terminal);
    Py_XDECREF(self->blocked);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int add_key(Scanner *self, const unsigned char *key, Py_ssize_t len) {
    Py_ssize_t node = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        uint16_t *next = &self->child[node * self->nslots + self->slot[key[i]]];
        if (*next == 0) {
            *next = (uint16_t)self->nnodes++;
        }
        node = *next;
    }
    self->terminal[node] = 1;
    return 0;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"keys", "blocked_next", NULL};
    PyObject *keys_arg, *blocked_arg, *keys;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO", names, &keys_arg, &blocked_arg)) {
        return -1;
    }
    keys = PySequence_Tuple(keys_arg);
    if (keys == NULL) {
        return -1;
    }
    Py_CLEAR(self->blocked);
    self->blocked = PySequence_Tuple(blocked_arg);
    if (self->blocked == NULL) {
        goto fail;
    }
    for (Py_ssize_t b = 0; b < PyTuple_GET_SIZE(self->blocked); b++) {
        PyObject *word = PyTuple_GET_ITEM(self->blocked, b);
        if (!PyUnicode_Check(word) || !PyUnicode_IS_ASCII(word)) {
            PyErr_SetString(PyExc_ValueError, "blocked words must be ASCII str");
            goto fail;
        }
    }
    /* Slots for the characters keys use; a key with any other whitespace than ' ', a non-ASCII
       character or an empty or too long key is not for this scanner. */
    memset(self->slot, 0, sizeof self->slot);
    self->nslots = 1;
    Py_ssize_t total = 1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
        PyObject *key = PyTuple_GET_ITEM(keys, k);
        if (!PyUnicode_Check(key) || !PyUnicode_IS_ASCII(key) || PyUnicode_GET_LENGTH(key) == 0 ||
            PyUnicode_GET_LENGTH(key) > MAX_KEY) {
            PyErr_SetString(PyExc_ValueError, "keys must be non-empty ASCII str of at most 255 characters");
            goto fail;
        }
        const unsigned char *text = PyUnicode_1BYTE_DATA(key);
        for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(key); i++) {
            if (is_space(text[i]) && text[i] != ' ') {
                PyErr_SetString(PyExc_ValueError, "keys separate words with single spaces");
                goto fail;
            }
            if (self->slot[text[i]] == 0) {
                self->slot[text[i]] = (uint8_t)self->nslots++;
            }
        }
        total += PyUnicode_GET_LENGTH(key);
    }
    if (total > UINT16_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many key characters");
        goto fail;
    }
    PyMem_Free(self->child);
    PyMem_Free(self->terminal);
    self->child = PyMem_Calloc((size_t)total * self->nslots, sizeof(uint16_t));
    self->terminal = PyMem_Calloc((size_t)total, 1);
    if (self->child == NULL || self->terminal == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    self->nnodes = 1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
        PyObject *key = PyTuple_GET_ITEM(keys, k);
        add_key(self, PyUnicode_1BYTE_DATA(key), PyUnicode_GET_LENGTH(key));
    }
    Py_DECREF(keys);
    return 0;
fail:
    Py_DECREF(keys);
    return -1;
}

/* Nothing after the alias that would continue it, nor a blocked word ("Snowflake Ventures"). */
static int ends_cleanly(Scanner *self, const unsigned char *s, Py_ssize_t n, Py_ssize_t end) {
    if (end == n) {
        return 1;
    }
    unsigned char c = s[end];
    if (is_word(c) || c == '+' || c == '#') {
        return 0;
    }
    if (c == '.' && end + 1 < n && is_word(s[end + 1])) {
        return 0;
    }
    if (is_space(c)) {
        Py_ssize_t j = end;
        while (j < n && is_space(s[j])) {
            j++;
        }
        for (Py_ssize_t b = 0; b < PyTuple_GET_SIZE(self->blocked); b++) {
            PyObject *word = PyTuple_GET_ITEM(self->blocked, b);
            Py_ssize_t len = PyUnicode_GET_LENGTH(word);
            if (j + len <= n && memcmp(s + j, PyUnicode_1BYTE_DATA(word), (size_t)len) == 0 &&
                (j + len == n || !is_word(s[j + len]))) {
                return 0;
            }
        }
    }
    return 1;
}

/* The end of the longest key at `start` that ends cleanly, or -1. */
static Py_ssize_t match_at(Scanner *self, const unsigned char *s, Py_ssize_t n, Py_ssize_t start) {
    Py_ssize_t ends[MAX_KEY], found = 0, node = 0, i = start;
    while (i < n && found < MAX_KEY) {
        unsigned char c = s[i];
        int space = is_space(c);
        int slot = space ? self->slot[' '] : (c < 128 ? self->slot[c] : 0);
        uint16_t next = slot ? self->child[node * self->nslots + slot] : 0;
        if (next == 0) {
            break;
        }
        node = next;
        i++;
        while (space && i < n && is_space(s[i])) {
            i++;
        }
        if (self->terminal[node]) {
            ends[found++] = i;
        }
    }
    while (found > 0) {
        if (ends_cleanly(self, s, n, ends[--found])) {
            return ends[found];
        }
    }
    return -1;
}

static PyObject *Scanner_spans(Scanner *self, PyObject *text) {
    const unsigned char *s = ascii_chars(text, "spans");
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t p = 0; p + 1 < n; p++) {  /* p: the character before a possible alias */
        unsigned char c = s[p];
        if (is_lower_word(c) || c == '#' || c == '@' || c == '$' || (c == '.' && p > 0 && is_lower_word(s[p - 1]))) {
            continue;
        }
        Py_ssize_t end = match_at(self, s, n, p + 1);
        if (end < 0) {
            continue;
        }
        PyObject *span = Py_BuildValue("(nn)", p + 1, end);
        if (span == NULL || PyList_Append(out, span) < 0) {
            Py_XDECREF(span);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(span);
        p = end - 1;
    }
    return out;
}

/* Any of `needles` (a tuple of str) in ASCII `text`? One pass: a needle is compared only where
   the text has its first two characters. */
static PyObject *contains_any(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *text, *needles;
    if (!PyArg_ParseTuple(args, "OO!:contains_any", &text, &PyTuple_Type, &needles)) {
        return NULL;
    }
    const unsigned char *s = ascii_chars(text, "contains_any");
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), count = PyTuple_GET_SIZE(needles);
    uint64_t pairs[128][2] = {{0}};  /* first character -> bit set of the second characters */
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *needle = PyTuple_GET_ITEM(needles, k);
        if (ascii_chars(needle, "contains_any") == NULL) {
            if (!PyUnicode_Check(needle)) {
                return NULL;
            }
            PyErr_Clear();  /* a non-ASCII needle cannot occur in ASCII text */
            continue;
        }
        const unsigned char *chars = PyUnicode_1BYTE_DATA(needle);
        Py_ssize_t len = PyUnicode_GET_LENGTH(needle);
        if (len < 2) {
            PyErr_SetString(PyExc_ValueError, "needles must be at least two characters long");
            return NULL;
        }
        pairs[chars[0]][chars[1] >> 6] |= (uint64_t)1 << (chars[1] & 63);
    }
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        unsigned char a = s[i], b = s[i + 1];
        if (!((pairs[a][b >> 6] >> (b & 63)) & 1)) {
            continue;
        }
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *needle = PyTuple_GET_ITEM(needles, k);
            Py_ssize_t len = PyUnicode_GET_LENGTH(needle);
            if (PyUnicode_IS_ASCII(needle) && i + len <= n &&
                memcmp(s + i, PyUnicode_1BYTE_DATA(needle), (size_t)len) == 0) {
                Py_RETURN_TRUE;
            }
        }
    }
    Py_RETURN_FALSE;
}

/* ASCII text with each line's whitespace runs made one space, lines stripped, empty lines
   dropped: " ".join(line.split()) for each line, as text.py does it in Python. */
static PyObject *squeeze_lines(PyObject *module, PyObject *text) {
    (void)module;
    const unsigned char *s = ascii_chars(text, "squeeze_lines");
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), used = 0;
    char *out = PyMem_Malloc(n > 0 ? (size_t)n : 1);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    int gap = 0, line_open = 0;  /* a space is owed before the next word; the line has a word */
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\n') {
            gap = 0;
            if (line_open) {
                out[used++] = '\n';
                line_open = 0;
            }
        } else if (is_space(c)) {
            gap = 1;
        } else {
            if (gap && line_open) {
                out[used++] = ' ';
            }
            out[used++] = (char)c;
            gap = 0;
            line_open = 1;
        }
    }
    if (used > 0 && out[used - 1] == '\n') {
        used--;
    }
    PyObject *result = PyUnicode_FromStringAndSize(out, used);
    PyMem_Free(out);
    return result;
}

/* {token: count} of the tokens of ASCII text split at a separator: Counter(text.split(sep)),
   without a str object a token. An open-addressing table of (offset, length) keys; it doubles
   when half full. */
typedef struct {
    Py_ssize_t start, len, count;  /* count 0: an empty slot */
} Token;

static uint64_t token_hash(const unsigned char *s, Py_ssize_t len) {
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
    for (Py_ssize_t i = 0; i < len; i++) {
        h = (h ^ s[i]) * 1099511628211ULL;
    }
    return h;
}

static int token_add(Token **table, size_t *size, size_t *used, const unsigned char *s, Py_ssize_t start,
                     Py_ssize_t len) {
    size_t mask = *size - 1, i = token_hash(s + start, len) & mask;
    Token *t = *table;
    while (t[i].count && (t[i].len != len || memcmp(s + t[i].start, s + start, (size_t)len) != 0)) {
        i = (i + 1) & mask;
    }
    if (t[i].count++) {
        return 0;
    }
    t[i].start = start;
    t[i].len = len;
    if (++*used * 2 <= *size) {
        return 0;
    }
    Token *grown = PyMem_Calloc(*size * 2, sizeof(Token));  /* rehash into a table twice the size */
    if (grown == NULL) {
        return -1;
    }
    size_t new_mask = *size * 2 - 1;
    for (size_t k = 0; k < *size; k++) {
        if (t[k].count) {
            size_t j = token_hash(s + t[k].start, t[k].len) & new_mask;
            while (grown[j].count) {
                j = (j + 1) & new_mask;
            }
            grown[j] = t[k];
        }
    }
    PyMem_Free(t);
    *table = grown;
    *size *= 2;
    return 0;
}

static PyObject *count_tokens(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *text;
    int sep;
    if (!PyArg_ParseTuple(args, "UC", &text, &sep)) {
        return NULL;
    }
    const unsigned char *s = ascii_chars(text, "count_tokens");
    if (s == NULL) {
        return NULL;
    }
    if (sep < 1 || sep > 127) {
        PyErr_SetString(PyExc_ValueError, "count_tokens() takes an ASCII separator");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), start = 0;
    size_t size = 64, used = 0;
    Token *table = PyMem_Calloc(size, sizeof(Token));
    if (table == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (i == n || s[i] == sep) {
            if (token_add(&table, &size, &used, s, start, i - start) < 0) {
                PyMem_Free(table);
                return PyErr_NoMemory();
            }
            start = i + 1;
        }
    }
    PyObject *counts = PyDict_New();
    for (size_t k = 0; counts != NULL && k < size; k++) {
        if (table[k].count) {
            PyObject *key = PyUnicode_FromStringAndSize((const char *)s + table[k].start, table[k].len);
            PyObject *value = PyLong_FromSsize_t(table[k].count);
            if (key == NULL || value == NULL || PyDict_SetItem(counts, key, value) < 0) {
                Py_CLEAR(counts);
            }
            Py_XDECREF(key);
            Py_XDECREF(value);
        }
    }
    PyMem_Free(table);
    return counts;
}

static PyMethodDef Scanner_methods[] = {
    {"spans", (PyCFunction)Scanner_spans, METH_O, "(start, end) of every alias in ASCII text."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "skillpulse_ingest._scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(keys, blocked_next): finds catalog aliases in ASCII text.",
    .tp_methods = Scanner_methods,
    .tp_init = (initproc)Scanner_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_functions[] = {
    {"contains_any", contains_any, METH_VARARGS, "contains_any(text, needles): is any needle in ASCII text?"},
    {"squeeze_lines", squeeze_lines, METH_O, "squeeze_lines(text): one space between words, no empty lines."},
    {"count_tokens", count_tokens, METH_VARARGS, "count_tokens(text, sep): Counter(text.split(sep)) as a dict."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Optional accelerator for text.py and skills.py.",
                                    -1, module_functions, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&ScannerType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
