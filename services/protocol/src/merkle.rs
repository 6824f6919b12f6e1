//! RFC 6962 §2.1 Merkle trees over a list's items, with inclusion proofs.
//!
//! leaf = SHA-256(0x00 || item), node = SHA-256(0x01 || left || right). The tree is built
//! bottom-up; an unpaired last node is promoted unchanged to the next level, which gives the
//! same root and audit paths as RFC 6962's recursive definition (tested below against it).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256(0x00 || item)
pub fn leaf_hash(item: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(item);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right)
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of an empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A whole tree, kept level by level so that proofs are cheap.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[0]` are the leaf hashes; the last level holds the root alone.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// Builds the tree over items.
    pub fn from_items<I: AsRef<[u8]>>(items: &[I]) -> Self {
        Self::from_leaves(items.iter().map(|i| leaf_hash(i.as_ref())).collect())
    }

    /// Builds the tree over already computed leaf hashes.
    pub fn from_leaves(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let prev = levels.last().expect("non-empty");
            let next: Vec<Hash> = prev
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => node_hash(l, r),
                    [only] => *only,
                    _ => unreachable!("chunks(2)"),
                })
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    pub fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    pub fn root(&self) -> Hash {
        match self.levels.last() {
            Some(top) if top.len() == 1 => top[0],
            _ => empty_root(),
        }
    }

    /// The audit path of leaf `index`, leaf to root; `None` when out of range.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        Some(self.path(index)?.copied().collect())
    }

    /// The audit path of leaf `index` as it travels: its hashes concatenated
    /// ([`unpack_path`] reads it back); `None` when out of range.
    pub fn packed_proof(&self, index: usize) -> Option<Vec<u8>> {
        let path = self.path(index)?;
        let mut out = Vec::with_capacity(32 * self.levels.len());
        for h in path {
            out.extend_from_slice(h);
        }
        Some(out)
    }

    /// The sibling hashes of leaf `index`, leaf to root; `None` when out of range.
    fn path(&self, index: usize) -> Option<impl Iterator<Item = &Hash>> {
        if index >= self.len() {
            return None;
        }
        let below_root = &self.levels[..self.levels.len() - 1];
        Some(
            below_root
                .iter()
                .enumerate()
                .filter_map(move |(depth, level)| level.get((index >> depth) ^ 1)),
        )
    }
}

/// Reads a packed audit path; `None` unless its length is a multiple of 32.
pub fn unpack_path(bytes: &[u8]) -> Option<Vec<Hash>> {
    let chunks = bytes.chunks_exact(32);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks.map(hash_from_slice).collect()
}

/// The root over items.
pub fn root<I: AsRef<[u8]>>(items: &[I]) -> Hash {
    Tree::from_items(items).root()
}

/// Verifies that `leaf` is at `index` of a tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Reads a 32-byte hash from bytes (e.g. a proof element off the wire).
pub fn hash_from_slice(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's recursive MTH, as written in the RFC.
    fn mth(items: &[Vec<u8>]) -> Hash {
        match items.len() {
            0 => empty_root(),
            1 => leaf_hash(&items[0]),
            n => {
                let k = largest_power_of_two_below(n);
                node_hash(&mth(&items[..k]), &mth(&items[k..]))
            }
        }
    }

    /// RFC 6962's recursive PATH.
    fn path(m: usize, items: &[Vec<u8>]) -> Vec<Hash> {
        let n = items.len();
        if n <= 1 {
            return vec![];
        }
        let k = largest_power_of_two_below(n);
        if m < k {
            let mut p = path(m, &items[..k]);
            p.push(mth(&items[k..]));
            p
        } else {
            let mut p = path(m - k, &items[k..]);
            p.push(mth(&items[..k]));
            p
        }
    }

    fn largest_power_of_two_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn items(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("item-{i}").into_bytes()).collect()
    }

    #[test]
    fn root_and_paths_match_rfc6962_recursive_definition() {
        for n in 0..=70 {
            let its = items(n);
            let tree = Tree::from_items(&its);
            assert_eq!(tree.root(), mth(&its), "root for n={n}");
            for m in 0..n {
                assert_eq!(tree.proof(m).unwrap(), path(m, &its), "path {m} of {n}");
            }
        }
    }

    #[test]
    fn packed_paths_round_trip_and_odd_lengths_are_refused() {
        for n in 1..=40 {
            let tree = Tree::from_items(&items(n));
            for m in 0..n {
                let packed = tree.packed_proof(m).unwrap();
                assert_eq!(packed, tree.proof(m).unwrap().concat(), "{m} of {n}");
                assert_eq!(unpack_path(&packed).unwrap(), tree.proof(m).unwrap());
            }
            assert_eq!(tree.packed_proof(n), None);
        }
        assert_eq!(Tree::from_items(&items(0)).packed_proof(0), None);
        assert_eq!(unpack_path(&[]), Some(vec![]));
        assert_eq!(unpack_path(&[0u8; 33]), None);
        assert_eq!(unpack_path(&[0u8; 31]), None);
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        for n in 1..=40u64 {
            let its = items(n as usize);
            let tree = Tree::from_items(&its);
            let root = tree.root();
            for m in 0..n {
                let leaf = leaf_hash(&its[m as usize]);
                let proof = tree.proof(m as usize).unwrap();
                assert!(verify_inclusion(m, n, &leaf, &proof, &root), "{m} of {n}");
                assert!(!verify_inclusion(
                    m,
                    n,
                    &leaf_hash(b"forged"),
                    &proof,
                    &root
                ));
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(!verify_inclusion(other, n, &leaf, &proof, &root));
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(m, n, &leaf, &bad, &root));
                }
            }
            assert!(!verify_inclusion(n, n, &leaf_hash(b"x"), &[], &root));
        }
    }

    #[test]
    fn known_vector_two_leaves() {
        // Independent check of the domain separation bytes.
        let its = vec![b"a".to_vec(), b"b".to_vec()];
        let mut expect = Sha256::new();
        expect.update([1u8]);
        expect.update(Sha256::digest([&[0u8][..], b"a"].concat()));
        expect.update(Sha256::digest([&[0u8][..], b"b"].concat()));
        let expect: Hash = expect.finalize().into();
        assert_eq!(root(&its), expect);
    }
}
