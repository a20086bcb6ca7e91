# Independent LH64 v1 written from the spec in src/lh64.ts and the README, to cross-check the
# committed vectors (test/vectors.test.ts) in another language: python3 test/reference/lh64.py
M=0xffffffff
P1,P2,P3,P4,P5=0x9E3779B1,0x85EBCA77,0xC2B2AE3D,0x27D4EB2F,0x165667B1
rotl=lambda x,r:((x<<r)|(x>>(32-r)))&M
def lh64(tokens, extra=(), parent=0):
    words=list(tokens)+list(extra); n=len(words)
    v=[(P1*(2*j+1))&M for j in range(8)]
    w=words+[0]*((-n)%8)
    for s in range(0,len(w),8):
        for j in range(8): v[j]=(rotl((v[j]+w[s+j]*P2)&M,13)*P1)&M
    lo=(rotl(v[0],1)+rotl(v[1],7)+rotl(v[2],12)+rotl(v[3],18))&M
    hi=(rotl(v[4],1)+rotl(v[5],7)+rotl(v[6],12)+rotl(v[7],18))&M
    a=(lo+n*P5)&M; b=(hi+len(tokens)*P4)&M
    a^=rotl(b,11); a=(a*P1)&M; a^=a>>15
    b^=rotl(a,17); b=(b*P2)&M; b^=b>>13
    a^=rotl(b,11); a=(a*P3)&M; a^=a>>16
    b^=rotl(a,17); b=(b*P4)&M; b^=b>>16
    a^=parent&M; b^=parent>>32
    a=((a^rotl(b,16))*P1)&M
    b=((b^(a>>15))*P3)&M
    return (b<<32)|(a^(b>>16))
def key(tag,data): 
    d=data+b'\0'*((-len(data))%4)
    return [tag,len(data)]+[int.from_bytes(d[i:i+4],'little') for i in range(0,len(d),4)]
seq=list(range(40))
h0=lh64(seq[:16]); h1=lh64(seq[16:32],parent=h0)
print('%016x %016x'%(h0,h1))
print('%016x'%lh64([]), '%016x'%lh64([1,2,3],parent=2**64-1), '%016x'%lh64([4294967295],key(1,b'adapter-a')))
print('%016x'%lh64(list(range(7,16)),key(2,b'img')+key(3,b'tenant')), '%016x'%lh64(seq))
p=0; out=[]
for i in range(5):
    p=lh64(seq[8*i:8*i+8], key(1,b'3')+(key(3,b't1') if i==0 else []), p); out.append('%016x'%p)
print(out)
