/* The input both programs read: 16-byte records, "rec NNNN name..\n"; they sum the numbers. */
#define RECORD 16
